/**
 * Synthetic benign text shaped like ordinary MCP tool output: JSON API responses, knowledge-graph records,
 * CSV, logs, directory listings, source code with comments, README sections and how-to guides full of
 * imperatives to the human reader, e-mails with ordinary requests, and tool descriptions that address the
 * model ("Use this tool when …"). Written for toolwatch; names and values are random. These train the model
 * that such text is data, and host synthetic injections so that it learns what does not belong in them.
 */
import type { Random } from "./synthetic-text.js";

const PEOPLE =
  "Ana Ben Chloe Diego Eva Felix Gita Hugo Iris Jack Kira Liam Mona Nils Olga Pablo Rita Sami Tara Ugo".split(" ");
const SURNAMES =
  "Silva Novak Brown Keller Costa Haddad Ito Larsen Moreau Okafor Petrov Quinn Rossi Schmidt Tanaka".split(" ");
const THINGS =
  "invoice report roadmap budget contract release backlog schedule dashboard migration survey checklist playbook".split(
    " ",
  );
const PLACES = "Berlin Lisbon Osaka Denver Nairobi Oslo Lyon Austin Porto Seoul Dublin Quito".split(" ");
const TEAMS = "finance legal support platform design sales billing research marketing operations".split(" ");
const WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday".split(" ");
const MONTHS = "January February March April May June July August September October November December".split(" ");
const WORDS =
  "cache queue index shard token session worker bucket schema cluster replica build bundle plugin route handler".split(
    " ",
  );
const FILES = "README.md index.ts package.json main.py config.yaml notes.txt LICENSE utils.js server.go data.csv".split(
  " ",
);

function person(random: Random): string {
  return `${random.pick(PEOPLE)} ${random.pick(SURNAMES)}`;
}

function observation(random: Random): string {
  return random.pick([
    `owned by ${random.pick(TEAMS)}`,
    `due in ${random.pick(MONTHS)}`,
    `works on the ${random.pick(TEAMS)} team`,
    "prefers email over calls",
    `deployed every ${random.pick(WEEKDAYS)}`,
    `written in ${random.pick(["Go", "Rust", "TypeScript", "Python", "Java"])}`,
    `lives in ${random.pick(PLACES)}`,
    `review the ${random.pick(THINGS)} with ${random.pick(TEAMS)} first`,
    `send the ${random.pick(THINGS)} before ${random.pick(WEEKDAYS)}`,
    `asked to move the ${random.pick(THINGS)} meeting to ${random.pick(WEEKDAYS)}`,
    `likes hiking and ${random.pick(["jazz", "chess", "cooking", "cycling"])}`,
    `budget approved on ${1 + random.integer(28)} ${random.pick(MONTHS)}`,
    `should call ${random.pick(PEOPLE)} about the ${random.pick(THINGS)}`,
    `mentioned that the ${random.pick(WORDS)} is slow on Mondays`,
    "allergic to peanuts",
  ]);
}

function graph(random: Random): string {
  const entities = Array.from({ length: 1 + random.integer(4) }, () => ({
    name: random.chance(0.5) ? person(random) : `${random.pick(PLACES)} ${random.pick(THINGS)}`,
    entityType: random.pick(["person", "document", "project", "system", "place", "organization", "event"]),
    observations: Array.from({ length: random.integer(4) }, () => observation(random)),
  }));
  const relations = Array.from({ length: random.integer(3) }, () => ({
    from: random.pick(entities).name,
    to: random.pick(entities).name,
    relationType: random.pick(["works_at", "maintains", "reviews", "reports to", "depends on", "owns"]),
  }));
  const value = random.chance(0.5) ? entities : random.chance(0.5) ? { entities, relations } : relations;
  return JSON.stringify(value, null, random.chance(0.8) ? 2 : undefined);
}

function apiResponse(random: Random): string {
  const value = random.pick([
    () => ({
      id: `ord_${random.integer(99999)}`,
      status: random.pick(["shipped", "pending", "cancelled"]),
      customer: { name: person(random), city: random.pick(PLACES) },
      items: [{ sku: `SKU-${random.integer(9999)}`, quantity: 1 + random.integer(4), price: random.integer(200) }],
      note: random.pick(["Leave the parcel at the front desk.", "Ring twice, please.", "Gift wrap requested."]),
    }),
    () => ({
      error: {
        code: random.pick([400, 401, 404, 429, 500]),
        message: random.pick([
          "Rate limit exceeded. Please retry after 30 seconds.",
          "Invalid API key. Check your credentials and try again.",
          "The requested resource was not found.",
          "Missing required parameter: query.",
          "Use the v2 endpoint instead; v1 is deprecated.",
        ]),
      },
    }),
    () => ({
      location: random.pick(PLACES),
      temperature: random.integer(35),
      conditions: random.pick(["Sunny", "Partly cloudy", "Light rain", "Snow showers"]),
      forecast: random.pick([
        "Take an umbrella if you go out this afternoon.",
        "Clear skies through the weekend.",
        "Expect strong winds after midnight.",
      ]),
    }),
    () => ({
      results: Array.from({ length: 1 + random.integer(3) }, () => ({
        title: `How to ${random.pick(["configure", "reset", "install", "update"])} the ${random.pick(WORDS)}`,
        url: `https://docs.example.com/${random.pick(WORDS)}/${random.integer(99)}`,
        snippet: random.pick([
          "Open the settings page and select Advanced to change this option.",
          "Run the installer again and choose Repair.",
          "Restart the service after changing the configuration file.",
          "Make sure the port is not used by another process.",
        ]),
      })),
      total: random.integer(500),
    }),
    () => ({
      name: `@example/${random.pick(WORDS)}`,
      version: `${random.integer(5)}.${random.integer(20)}.${random.integer(9)}`,
      description: random.pick([
        "A small library to parse and validate configuration files.",
        "Fast, unopinionated web framework for Node.js.",
        "Model Context Protocol server for managing notes.",
      ]),
      scripts: { build: "tsc", test: "node --test", start: "node dist/index.js" },
      license: "MIT",
    }),
    () => ({
      ticket: random.integer(90000),
      subject: `${random.pick(WORDS)} ${random.pick(["fails", "is slow", "returns 500", "times out"])}`,
      reporter: person(random),
      comments: [
        random.pick([
          "Can you attach the logs from the last run?",
          "Please try clearing the cache and let me know if it still happens.",
          "I can reproduce this on staging.",
          "Closing as fixed in the latest release.",
        ]),
      ],
    }),
  ])();
  return JSON.stringify(value, null, random.chance(0.7) ? 2 : undefined);
}

function csv(random: Random): string {
  const rows = [random.pick(["date,description,amount", "name,team,email,notes", "id,title,status,owner"])];
  for (let index = 0; index < 3 + random.integer(8); index++) {
    rows.push(
      random.pick([
        () =>
          `2024-${1 + random.integer(12)}-${1 + random.integer(28)},${random.pick(THINGS)} payment,${random.integer(900)}.00`,
        () =>
          `${person(random)},${random.pick(TEAMS)},${random.pick(PEOPLE).toLowerCase()}@example.org,"${observation(random)}"`,
        () =>
          `${random.integer(999)},"Update the ${random.pick(THINGS)}",${random.pick(["open", "done"])},${random.pick(PEOPLE)}`,
      ])(),
    );
  }
  return rows.join("\n");
}

function logLines(random: Random): string {
  const lines: string[] = [];
  for (let index = 0; index < 3 + random.integer(10); index++) {
    const time = `2024-0${1 + random.integer(9)}-1${random.integer(9)}T1${random.integer(9)}:${10 + random.integer(49)}:0${random.integer(9)}Z`;
    lines.push(
      `${time} ${random.pick(["INFO", "WARN", "ERROR", "DEBUG"])} ${random.pick([
        `Started ${random.pick(WORDS)} worker on port ${3000 + random.integer(100)}`,
        `Failed to connect to ${random.pick(WORDS)}; retrying in 5 s`,
        "Use --force to overwrite the existing file",
        `Request GET /api/${random.pick(WORDS)} completed in ${random.integer(900)} ms`,
        "Deprecated option 'legacy' will be removed in the next major version",
        `User ${random.pick(PEOPLE).toLowerCase()} logged in`,
        "Run 'npm audit fix' to address the reported vulnerabilities",
        `Cache miss for key ${random.pick(WORDS)}:${random.integer(999)}`,
        "Please check the configuration file for errors",
      ])}`,
    );
  }
  return lines.join("\n");
}

function listing(random: Random): string {
  const lines: string[] = [];
  for (let index = 0; index < 2 + random.integer(8); index++) {
    const file = random.chance(0.3) ? random.pick(WORDS) : random.pick(FILES);
    lines.push(
      random.pick([
        () => `[${file.includes(".") ? "FILE" : "DIR"}] ${file}`,
        () => `[FILE] ${file} ${random.integer(90)}.${random.integer(99)} KB`,
        () => `${file.includes(".") ? "-rw-r--r--" : "drwxr-xr-x"} 1 user staff ${random.integer(9000)} ${file}`,
        () => `/home/user/projects/${random.pick(WORDS)}/${file}`,
      ])(),
    );
  }
  return lines.join("\n");
}

function sourceCode(random: Random): string {
  const name = random.pick(WORDS);
  return random.pick([
    () =>
      `// Write to a temporary file first, then rename it over the original so readers never see a partial file.\nasync function save${name}(path, data) {\n  const temporary = \`\${path}.tmp\`;\n  await fs.writeFile(temporary, data);\n  await fs.rename(temporary, path);\n}`,
    () =>
      `def load_${name}(path):\n    """Read the ${name} file and return its entries.\n\n    Raises ValueError when the file is empty.\n    """\n    with open(path) as handle:\n        return [line.strip() for line in handle if line.strip()]`,
    () =>
      `export function ${name}Key(value: string): string {\n  // Normalise first: callers pass paths with either separator.\n  return value.replace(/\\\\/g, "/").toLowerCase();\n}`,
    () =>
      `if (isUnixPath) {\n  // For Unix paths, just normalize without converting to Windows format\n  return path.posix.normalize(p);\n}\n// Convert to Windows format and resolve the drive letter\nreturn path.win32.normalize(p);`,
    () =>
      `func (s *Server) Handle${name}(w http.ResponseWriter, r *http.Request) {\n\t// Reject requests without a token before touching the store.\n\tif r.Header.Get("Authorization") == "" {\n\t\thttp.Error(w, "missing token", http.StatusUnauthorized)\n\t\treturn\n\t}\n}`,
    () =>
      `# Send the report to the team channel once the job finishes.\nresult = run_job(config)\nif result.ok:\n    notify(channel="#${random.pick(TEAMS)}", text=result.summary)`,
    () =>
      `SELECT name, email FROM users WHERE team = '${random.pick(TEAMS)}' ORDER BY name; -- delete stale rows afterwards`,
  ])();
}

function readme(random: Random): string {
  const tool = random.pick(WORDS);
  const parts = [
    `# ${tool}-server`,
    random.pick([
      `A Model Context Protocol server that exposes the ${tool} to your assistant.`,
      `Lets your AI client read and search ${tool} data.`,
    ]),
    random.pick([
      "## Installation",
      "## Getting Started",
      "## Usage",
      "## Configuration",
      `## [How It Works](how-it-works.md)`,
    ]),
    random.pick([
      `**Method 1: User Configuration (Recommended)** Add the configuration to your user-level MCP configuration file.`,
      `Add this to your \`claude_desktop_config.json\`:`,
      "Run `npx -y @example/server` to start the server.",
      "**Important**: If the server starts without arguments, it uses the current directory.",
      "- **stdio** for local processes (recommended).",
      "- **HTTP + SSE** for backwards compatibility only.",
      "Open the command palette and search for MCP: Add Server.",
      `Set \`${tool.toUpperCase()}_PATH\` to a custom location if you need one.`,
    ]),
    random.pick([
      '```json\n{\n  "mcpServers": {\n    "memory": { "command": "npx", "args": ["-y", "@example/server-memory"] }\n  }\n}\n```',
      "```bash\nnpm install\nnpm run build\n```",
      "| Tool | Description |\n| --- | --- |\n| `read_file` | Read a file |\n| `write_file` | Create or overwrite a file |",
    ]),
    random.pick([
      "Note: the server only reads files inside the allowed directories.",
      "Please open an issue if something does not work as described.",
      "See [the specification](https://modelcontextprotocol.io/specification) for details.",
      "> **Warning**: never commit your API keys.",
      "Click Save and restart the client to pick up the change.",
    ]),
    "## License",
    "This project is licensed under the MIT License. See the LICENSE file for details.",
  ];
  return parts.join("\n\n");
}

function howTo(random: Random): string {
  const steps = random.pick([
    [
      "Open Settings and select Accounts.",
      "Click Add account and enter your email address.",
      "Check your inbox for the verification code and type it in.",
      "Click Save.",
    ],
    [
      "Unplug the router and wait thirty seconds.",
      "Plug it back in and wait for the light to turn green.",
      "If the light stays red, call your provider.",
    ],
    [
      "Run npm install.",
      "Copy the example configuration and edit the database URL.",
      "Start the server with npm start and open the dashboard.",
      "Send a test request to make sure everything works.",
    ],
    [
      "Peel and dice the potatoes.",
      "Boil them in salted water for fifteen minutes.",
      "Drain, add butter and milk, then mash until smooth.",
      "Season to taste and serve hot.",
    ],
  ]);
  const numbered = random.chance(0.6);
  const head = random.pick(["## Steps", "How to do it:", "### Instructions", "Quick guide"]);
  return `${head}\n${steps.map((step, index) => (numbered ? `${index + 1}. ${step}` : `- ${step}`)).join("\n")}`;
}

function email(random: Random): string {
  const from = random.pick(PEOPLE);
  return [
    `From: ${from.toLowerCase()}@example.com`,
    `Subject: ${random.pick(THINGS)} ${random.pick(["review", "update", "question", "follow-up"])}`,
    "",
    `Hi ${random.pick(PEOPLE)},`,
    random.pick([
      `Please review the attached ${random.pick(THINGS)} by ${random.pick(WEEKDAYS)}.`,
      `Could you send me the latest ${random.pick(THINGS)} when you have a minute?`,
      `Can you forward the ${random.pick(THINGS)} to ${random.pick(PEOPLE)}?`,
      `Please update the ${random.pick(THINGS)} with the numbers from ${random.pick(MONTHS)}.`,
      "Let me know if Thursday works for a quick call.",
    ]),
    random.pick([
      "Thanks in advance!",
      "Don't hesitate to reach out if anything is unclear.",
      "Remember to book the room for the workshop.",
      "I'll be out of office next week.",
    ]),
    `Best,\n${from}`,
  ].join("\n");
}

/**
 * A markdown table as a tool returns it, sometimes with the lines of prose tables carry in real documents
 * (a title, a caption, units, a source, a footnote, a note to the human reader), so that a line of its own
 * amid table rows is not by itself an instruction.
 */
function markdownTable(random: Random): string {
  const columns = ["Name", random.pick(["City", "Team", "Region"]), random.pick(["Total", "Score", "Budget", "Year"])];
  const rows = [`| ${columns.join(" | ")} |`];
  if (random.chance(0.5)) rows.push(`| ${columns.map(() => "---").join(" | ")} |`);
  for (let index = 0; index < 3 + random.integer(10); index++) {
    rows.push(`| ${random.pick(PEOPLE)} ${random.pick(SURNAMES)} | ${random.pick(PLACES)} | ${random.integer(5000)} |`);
  }
  const prose = [
    `Table ${1 + random.integer(9)}: ${random.pick(THINGS)} figures by ${random.pick(["region", "team", "quarter"])}.`,
    `Source: ${random.pick(TEAMS)} team, ${random.pick(MONTHS)} report.`,
    "All amounts are in thousands of euros unless stated otherwise.",
    `Note: the ${random.pick(MONTHS)} figures are provisional and will be revised next quarter.`,
    `* Includes the ${random.pick(PLACES)} office, which joined in ${random.pick(MONTHS)}.`,
    `Contact the ${random.pick(TEAMS)} team if a figure looks wrong.`,
    "Click a column header to sort the table.",
    `Results of the ${random.pick(THINGS)} survey, updated ${random.pick(WEEKDAYS)}.`,
    "Totals may not add up because of rounding.",
    `See the ${random.pick(THINGS)} appendix for how each score is computed.`,
  ];
  const lines = [...rows];
  if (random.chance(0.5)) lines.unshift(random.pick(prose));
  if (random.chance(0.5)) lines.push(random.pick(prose));
  if (random.chance(0.2)) lines.splice(1 + random.integer(lines.length - 1), 0, random.pick(prose));
  return lines.join("\n");
}

function toolDescription(random: Random): string {
  const thing = random.pick(WORDS);
  const main = random.pick([
    `Read the complete contents of a ${thing} from the file system. Use this tool when you need to examine a single ${thing}.`,
    `DEPRECATED: Use read_${thing} instead.`,
    `Search for ${thing}s matching a pattern. Returns the full paths of all matches.`,
    `Create a new ${thing} or overwrite an existing one. Use with caution, as it overwrites without warning.`,
    `Only works within allowed directories. Always use absolute paths.`,
    `Call this tool before editing a ${thing} to get its latest version.`,
    `Get detailed metadata about a ${thing}. Useful when you need to know the size or the modification time.`,
    `Add new observations to existing entities in the knowledge graph.`,
    `Use this when the user asks to schedule a meeting. Ask the user for the time if it is missing.`,
    `Prefer this tool over list_${thing}s when you need sizes as well.`,
    `Returns an error if the ${thing} does not exist. You must provide either an id or a name.`,
  ]);
  const parameter = random.pick([
    `The path of the ${thing} to read`,
    "If provided, returns only the first N lines of the file",
    "Number of results to return (1-100)",
    "Must be an absolute path inside an allowed directory",
    "The search query to match against entity names, types, and observation content",
    "Text to search for - must match exactly",
  ]);
  return random.chance(0.6) ? `${main}\n${parameter}` : main;
}

/** One benign document shaped like ordinary tool output or a tool description. */
export function benignDataText(random: Random): string {
  const generators = [
    graph,
    apiResponse,
    csv,
    logLines,
    listing,
    sourceCode,
    readme,
    howTo,
    email,
    toolDescription,
    markdownTable,
  ];
  return random.pick(generators)(random);
}
