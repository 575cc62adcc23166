"""Every string the lab extension shows goes through JupyterLab's translator (`trans.__`).

A language pack for the `jupyter_envmgr` gettext domain translates only what the extension
passes through `trans.__` / `trans._n` / `trans._p`. This test reads every `labextension/src`
file with the TypeScript compiler's own parser (no regular expressions over TSX) and lists the
bare words a user would see:

- JSX text (`<span>Install</span>`) and string literals shown as JSX children (`{'Install'}`);
- strings in the attributes and properties that are shown: `title`, `placeholder`,
  `aria-label`, `alt`, `label`, `caption`, `okLabel`, `message`, `body`, `text`, and the
  `.title.label` / `.title.caption` of widgets;
- the words given to JupyterLab's dialogs and notifications (`showErrorMessage`, `showDialog`,
  `Notification.*`, `Dialog.*Button`) and to the views' `confirm` / `prompt`.

A string counts as a word when it has two letters in a row; glyphs, numbers, punctuation and
class names (in `className`, never scanned) pass. `ALLOWED` names the few exceptions, each with
its reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parent.parent / "labextension"

# Strings that look like words but are not to be translated, each with why.
ALLOWED: dict[str, str] = {
    "conda": "the package manager's name",
    "env:": "the status item's prefix, as the CLI prints it (`env: NAME`)",
    "pip:": "the section name of an environment.yml file",
    "ipykernel": "a package name",
    "python=3.12 numpy ipykernel": "the create form's example specs, typed as they are",
}

# Parsed and walked by the TypeScript compiler that builds the extension (its node_modules).
SCANNER = r"""
const ts = require(process.argv[1] + '/node_modules/typescript');
const fs = require('fs');
const path = require('path');
const SHOWN_ATTRS = new Set(['title', 'placeholder', 'aria-label', 'alt', 'label', 'empty']);
const SHOWN_PROPS = new Set(['label', 'caption', 'okLabel', 'cancelLabel', 'message', 'body',
  'title', 'placeholder', 'text', 'iconLabel']);
const SHOWN_CALLS = new Set(['showErrorMessage', 'appendText', 'appendList', 'setError',
  'showDialog', 'confirm', 'prompt', 'emit',
  'info', 'success', 'warning', 'error', 'update', 'promise', 'okButton', 'cancelButton',
  'warnButton', 'createButton', 'getText', 'getItem']);
const NOTIFY = new Set(['emit', 'info', 'success', 'warning', 'error', 'promise']);
// Calls on these objects (console, signals, private fields) show nothing.
const NOT_SHOWN = /^(console|_\w+|this\._\w+|\w+Changed)$/;
const TRANS = new Set(['__', '_n', '_p', '_np']);
const found = [];
// An HTML tag name given to a DOM helper is not shown.
const TAGS = /^(li|ul|ol|th|td|tr|div|span|p|h[1-6])$/;
function words(text) { return /[A-Za-z]{2,}/.test(text) && !TAGS.test(text); }
function insideTrans(node) {
  for (let n = node.parent; n; n = n.parent) {
    if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) &&
        TRANS.has(n.expression.name.text)) return true;
  }
  return false;
}
function calleeName(call) {
  const e = call.expression;
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  return '';
}
// Strings shown by the expression `node`: its literals, except those inside a call that is not
// a condition/concatenation (a call computes its value; the scan follows the visible parts).
function literals(node, out) {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) {
    out.push(node); return;
  }
  if (ts.isTemplateExpression(node)) {
    out.push(node); return;
  }
  if (ts.isCallExpression(node) || ts.isJsxElement(node) || ts.isJsxSelfClosingElement(node) ||
      ts.isBinaryExpression(node) && ['===', '!==', '==', '!=', '<', '>', '<=', '>=', 'in',
        'instanceof'].includes(ts.tokenToString(node.operatorToken.kind))) {
    return;
  }
  if (ts.isBinaryExpression(node)) {
    literals(node.left, out); literals(node.right, out); return;
  }
  if (ts.isConditionalExpression(node)) {
    literals(node.whenTrue, out); literals(node.whenFalse, out); return;
  }
  if (ts.isArrowFunction(node)) {
    if (ts.isBlock(node.body)) {
      const walk = n => { if (ts.isReturnStatement(n) && n.expression) literals(n.expression, out);
        else if (!ts.isFunctionLike(n)) ts.forEachChild(n, walk); };
      ts.forEachChild(node.body, walk);
    } else literals(node.body, out);
    return;
  }
  if (ts.isParenthesizedExpression(node) || ts.isAsExpression(node)) {
    literals(node.expression, out); return;
  }
}
function text(node) {
  if (ts.isTemplateExpression(node)) {
    return node.head.text + node.templateSpans.map(s => '${}' + s.literal.text).join('');
  }
  return node.text;
}
function report(file, node, what) {
  const t = text(node).trim();
  if (!words(t) || insideTrans(node)) return;
  const { line } = file.getLineAndCharacterOfPosition(node.getStart());
  const where = path.relative(process.argv[1], file.fileName);
  found.push({ file: where, line: line + 1, what, text: t });
}
function check(file, expr, what) {
  const out = [];
  literals(expr, out);
  for (const node of out) report(file, node, what);
}
function visit(file, node) {
  if (ts.isJsxText(node)) {
    report(file, node, 'JSX text');
  } else if (ts.isJsxExpression(node) && node.expression &&
             (ts.isJsxElement(node.parent) || ts.isJsxFragment(node.parent))) {
    check(file, node.expression, 'JSX child');
  } else if (ts.isJsxAttribute(node) && SHOWN_ATTRS.has(node.name.getText(file)) &&
             node.initializer) {
    const init = node.initializer;
    if (ts.isStringLiteral(init)) report(file, init, 'attribute ' + node.name.getText(file));
    else if (init.expression) check(file, init.expression, 'attribute ' + node.name.getText(file));
  } else if (ts.isPropertyAssignment(node) && SHOWN_PROPS.has(node.name.getText(file))) {
    check(file, node.initializer, 'property ' + node.name.getText(file));
  } else if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
             /\.title\.(label|caption)$|\.(textContent|title|placeholder)$/.test(
               node.left.getText(file))) {
    check(file, node.right, 'assignment ' + node.left.getText(file));
  } else if (ts.isCallExpression(node) && SHOWN_CALLS.has(calleeName(node)) &&
             !(ts.isPropertyAccessExpression(node.expression) && NOT_SHOWN.test(
               node.expression.expression.getText(file)))) {
    // A notification's first argument is its message; the others are its type and options.
    const shown = NOTIFY.has(calleeName(node)) ? node.arguments.slice(0, 1) : node.arguments;
    for (const arg of shown) check(file, arg, 'argument of ' + calleeName(node));
  }
  ts.forEachChild(node, child => visit(file, child));
}
function files(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e =>
    e.isDirectory() ? files(path.join(dir, e.name)) :
    /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path.join(dir, e.name)] : []);
}
for (const name of files(path.join(process.argv[1], 'src'))) {
  const source = fs.readFileSync(name, 'utf8');
  const kind = name.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const file = ts.createSourceFile(name, source, ts.ScriptTarget.Latest, true, kind);
  visit(file, file);
}
process.stdout.write(JSON.stringify(found));
"""


def bare_strings(lab: Path = LAB) -> list[dict[str, object]]:
    """The user-visible strings in `lab`/src not passed through the translator."""
    node = shutil.which("node")
    if node is None or not (lab / "node_modules" / "typescript").is_dir():
        if os.environ.get("CI"):
            pytest.fail("node and labextension/node_modules are needed (jlpm install)")
        pytest.skip("node or labextension/node_modules missing (jlpm install)")
    out = subprocess.run(
        [node, "-e", SCANNER, str(lab)], check=True, capture_output=True, text=True
    ).stdout
    found: list[dict[str, object]] = json.loads(out)
    return [f for f in found if f["text"] not in ALLOWED]


def test_every_user_visible_string_goes_through_the_translator() -> None:
    found = bare_strings()
    lines = [f"{f['file']}:{f['line']}: {f['what']}: {f['text']!r}" for f in found]
    assert not lines, (
        "user-visible strings not passed through trans.__ (a language pack cannot translate "
        "them):\n" + "\n".join(lines)
    )


def test_the_extension_and_its_settings_use_one_gettext_domain() -> None:
    i18n = (LAB / "src" / "i18n.ts").read_text()
    assert "load('jupyter_envmgr')" in i18n
    # The settings' titles and descriptions: translated by the server with the schema's domain
    # (JupyterLab's own domain otherwise).
    schema = json.loads((LAB / "schema" / "plugin.json").read_text())
    assert schema["jupyter.lab.internationalization"]["domain"] == "jupyter_envmgr"
