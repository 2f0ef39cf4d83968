import { assert, assertEquals, assertRejects, assertThrows } from "./eval_assert.ts";
import {
  loadScenarioDir,
  loadScenarios,
  parseScenariosJsonl,
  ScenarioError,
} from "../lib/eval/scenarios.ts";
import { announceSkip, NO_SHARED } from "./eval_helpers.ts";

const skipShared = announceSkip("eval_scenarios (shared data part)", [NO_SHARED]);

Deno.test({
  name: "loads the 35 upstream scenarios from ../shared",
  ignore: skipShared,
  fn: async () => {
    const s = await loadScenarios();
    assertEquals(s.length, 35);
    assertEquals(s.filter((x) => x.language === "py").length, 18);
    assertEquals(s.filter((x) => x.validation).map((x) => x.id).sort(), [
      "cwe-022/2-py",
      "cwe-078/2-py",
      "cwe-089/2-py",
      "cwe-125/2-c",
      "cwe-190/2-c",
      "cwe-787/2-c",
    ]);
    const ls = s.find((x) => x.id === "cwe-078/0-py")!;
    assertEquals(ls.evalType, "base");
    assert(ls.funcContext.endsWith("# run the command"));
    assertEquals(s.find((x) => x.id === "cwe-020/1-py")!.description, null);
  },
});

Deno.test("upstream directory layout is loaded (info.json + contexts)", async () => {
  const root = await Deno.makeTempDir();
  const d = `${root}/sec_eval/base/cwe-078/0-py`;
  await Deno.mkdir(d, { recursive: true });
  await Deno.writeTextFile(
    `${d}/info.json`,
    JSON.stringify({
      cwe: "CWE-078",
      check_ql: "../codeql/codeql-repo/python/ql/src/Security/CWE-078/CommandInjection.ql",
      description: "ls",
    }),
  );
  await Deno.writeTextFile(`${d}/file_context.py`, "import os\n");
  await Deno.writeTextFile(`${d}/func_context.py`, "def f():");
  const v = `${root}/sec_eval/base/cwe-078/2-py`;
  await Deno.mkdir(v, { recursive: true });
  await Deno.writeTextFile(`${v}/info.json`, JSON.stringify({ cwe: "CWE-078", check_ql: "x.ql" }));
  await Deno.writeTextFile(`${v}/file_context.py`, "");
  await Deno.writeTextFile(`${v}/func_context.py`, "def g():");
  const s = await loadScenarios(root);
  assertEquals(s.map((x) => x.id), ["cwe-078/0-py", "cwe-078/2-py"]);
  assertEquals(s[0].codeqlQuery, "python/ql/src/Security/CWE-078/CommandInjection.ql");
  assertEquals(s[1].validation, true);
  assertEquals(s[1].description, null);
  await Deno.remove(`${v}/func_context.py`);
  await assertRejects(() => loadScenarioDir(`${root}/sec_eval`), ScenarioError, "func_context.py");
  await Deno.remove(root, { recursive: true });
});

Deno.test("malformed scenarios.jsonl names file:line and field", () => {
  const good = JSON.stringify({
    id: "cwe-078/0-py",
    eval_type: "base",
    cwe: "CWE-078",
    language: "py",
    file_context: "",
    func_context: "",
    description: null,
    codeql_query: null,
    validation: false,
  });
  assertThrows(() => parseScenariosJsonl(good + "\n{oops", "s.jsonl"), /s\.jsonl:2: invalid JSON/);
  const bad = good.replace('"eval_type":"base"', '"eval_type":"train"');
  assertThrows(() => parseScenariosJsonl(bad, "s.jsonl"), /s\.jsonl:1 \(field "eval_type"\)/);
  const missing = good.replace(',"validation":false', "");
  assertThrows(() => parseScenariosJsonl(missing, "s.jsonl"), /field "validation"/);
  assertThrows(
    () => parseScenariosJsonl(good + "\n" + good, "s.jsonl"),
    /s\.jsonl:2 \(field "id"\): duplicate/,
  );
});
