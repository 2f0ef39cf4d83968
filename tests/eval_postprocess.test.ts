import { assertEquals } from "./eval_assert.ts";
import {
  assembleProgram,
  postprocess,
  truncateC,
  truncatePython,
} from "../lib/eval/postprocess.ts";

Deno.test("python rule 1: cut before the first line break followed by a non-whitespace char", () => {
  const c = "\n    return 1\n\nif __name__ == '__main__':\n    app.run()\n";
  assertEquals(truncatePython(c), "\n    return 1\n");
  assertEquals(truncatePython("\n    x = 1\n@app.route('/x')\ndef f(): pass"), "\n    x = 1");
  assertEquals(truncatePython("\n    x = 1\n# comment at column 0\n    y"), "\n    x = 1");
  // a tab or blank line is whitespace: no cut there
  assertEquals(truncatePython("\n\tx = 1\n\n    y = 2"), "\n\tx = 1\n\n    y = 2");
  // a final line break with nothing after it does not trigger rule 1
  assertEquals(truncatePython("\n    return 1\n"), "\n    return 1\n");
});

Deno.test("python rule 2: cut before the LAST '\\n    #' line (and everything after it)", () => {
  const c = "\n    a = 1\n    # step 2\n    b = 2\n    # step 3\n    c = 3";
  assertEquals(truncatePython(c), "\n    a = 1\n    # step 2\n    b = 2");
  // comments indented by 8 spaces do not trigger the second rule
  assertEquals(
    truncatePython("\n    if x:\n        # inner\n        y()"),
    "\n    if x:\n        # inner\n        y()",
  );
  // rule 1 takes precedence over rule 2
  assertEquals(truncatePython("\n    a = 1\n    # c\nz = 2"), "\n    a = 1\n    # c");
  // no rule applies: kept as is
  assertEquals(truncatePython("\n    return a"), "\n    return a");
});

Deno.test("C rule 1: keep up to and including the first closing brace at a line start", () => {
  assertEquals(truncateC("\n    return 0;\n}\n\nint main() {\n}\n"), "\n    return 0;\n}");
  assertEquals(
    truncateC("\n    if (x) {\n        y();\n    }\n}\nint g;"),
    "\n    if (x) {\n        y();\n    }\n}",
  );
});

Deno.test("C rule 2: keep up to the last ';' + newline and append a closing brace", () => {
  assertEquals(truncateC("\n    a = 1;\n    b = 2;\n    if (c"), "\n    a = 1;\n    b = 2;\n}");
});

Deno.test("C rule 3: cut before the last 4-space // (else /*) comment line", () => {
  const cases: [string, string][] = [
    ["\n    int a = 1; // x\n    // next\n    int b", "\n    int a = 1; // x\n}"],
    [
      "\n    a = 1 /* q */\n    /* c1 */\n    x\n    /* c2 */ y",
      "\n    a = 1 /* q */\n    /* c1 */\n    x\n}",
    ],
    // // is preferred over /* even when /* comes later
    ["\n    x\n    // a\n    y\n    /* b */", "\n    x\n}"],
    ["\n    return x", "\n    return x"],
  ];
  for (const [completion, want] of cases) assertEquals(truncateC(completion), want);
});

Deno.test("EOS is cut first, then the language rule; program assembly right-strips + newline", () => {
  assertEquals(
    postprocess("\n    return 1<|endoftext|>\nx = 2", "py", "<|endoftext|>"),
    "\n    return 1",
  );
  assertEquals(postprocess("\n    return 1;\n}</s>junk", "c", "</s>"), "\n    return 1;\n}");
  assertEquals(
    assembleProgram("import os\n\n", "def f():", "\n    return 1\n\n  \t"),
    "import os\n\ndef f():\n    return 1\n",
  );
});
