"""An explained connection as one self-contained HTML page.

Records are rows: the bytes as they crossed the wire in hex (and, when
encrypted, the decrypted inner plaintext below them) with, beside them, the tree
of fields. Hovering a field highlights its bytes, wherever they are (a message
may span records); hovering a byte highlights its field. The key schedule is a
diagram: the chain of stage secrets down the left, what each derives on its
right, each key linked to the records it protects.

Nothing is fetched: the style and the small script are inline, so the file works
offline. Everything that came from the connection is HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence

from .dissect import Explained, Record
from .fields import Field
from .output import summary
from .steps import Step, shown

# A record's bytes shown at most (the rest is summed up): application data can be large.
MAX_BYTES_SHOWN = 4096

_STYLE = """
:root{--ink:#1d2330;--muted:#5b6475;--line:#dde2ea;--bg:#f6f7f9;--card:#fff;--hl:#ffe08a;
--client:#1f5fbf;--server:#0b7a4b;--grease:#8a5a00;--bad:#b3261e;--ok:#0b7a4b}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1400px;margin:0 auto;padding:20px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:24px 0 8px}header h2{margin-top:0}
.muted{color:var(--muted)}
code,.hex,.tree,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;
 font-size:12.5px}
header,.record,.schedule{background:var(--card);border:1px solid var(--line);border-radius:10px;
 padding:14px 16px;margin:0 0 14px}
.facts span{display:inline-block;margin:0 18px 4px 0}
.record{display:grid;grid-template-columns:minmax(340px,47%) 1fr;gap:16px}
.record h3{grid-column:1/3;margin:0;font-size:15px}
.record.client h3 .dir{color:var(--client)}.record.server h3 .dir{color:var(--server)}
.hex{word-break:break-all;line-height:1.7}
.hex .b{padding:1px 1px;border-radius:2px;cursor:default}
.hex .b.hl{background:var(--hl);outline:1px solid #d9a400}
.hex .label{display:block;color:var(--muted);margin:6px 0 2px;font-family:system-ui,sans-serif}
.hex .more{color:var(--muted)}
.tree ul{list-style:none;margin:0;padding-left:14px;border-left:1px dotted var(--line)}
.tree>ul{padding-left:0;border:0}
.tree li>div{padding:1px 4px;border-radius:3px;cursor:default}
.tree li>div.hl{background:var(--hl)}
.tree .n{font-weight:600}.tree .v{color:#333}.tree .r{color:var(--muted);font-size:11px}
.tree .m{color:var(--muted);display:none}.tree li>div.hl .m{display:inline}
.tree .g{color:var(--grease);font-weight:600}
.tree .ok{color:var(--ok)}.tree .bad{color:var(--bad);font-weight:600}
.note{color:var(--bad)}
.f0{color:#1f5fbf}.f1{color:#8a3ffc}.f2{color:#0b7a4b}.f3{color:#b35c00}.f4{color:#a3155d}
.f5{color:#00707a}
.schedule .row{display:grid;grid-template-columns:minmax(260px,30%) 1fr;gap:12px;
 margin:0 0 6px}
.step{border:1px solid var(--line);border-radius:8px;padding:6px 9px;background:#fbfcfe}
.step.spine{border-left:4px solid var(--client)}
.step .op{color:var(--muted)}.step .out{word-break:break-all}
.step.hl{background:var(--hl)}
.branches{display:flex;flex-direction:column;gap:6px}
.branches .step{margin-left:calc(var(--depth,0)*22px)}
.arrow{color:var(--muted);text-align:center;margin:-2px 0 4px;width:30%}
a.rec{color:inherit}
"""

_SCRIPT = """
(function(){
const bytes={};document.querySelectorAll('.b[data-f]').forEach(b=>{
  (bytes[b.dataset.f]=bytes[b.dataset.f]||[]).push(b);});
const nodes={};document.querySelectorAll('.tree li[data-id]').forEach(li=>{
  nodes[li.dataset.id]=li;});
function leaves(li){const ids=[li.dataset.id];
  li.querySelectorAll('li[data-id]').forEach(x=>ids.push(x.dataset.id));return ids;}
function clear(){document.querySelectorAll('.hl').forEach(x=>x.classList.remove('hl'));}
function showNode(li){clear();li.firstElementChild.classList.add('hl');
  leaves(li).forEach(id=>(bytes[id]||[]).forEach(b=>b.classList.add('hl')));}
document.querySelectorAll('.tree li[data-id]>div').forEach(d=>{
  d.addEventListener('mouseenter',()=>showNode(d.parentElement));});
document.querySelectorAll('.b[data-f]').forEach(b=>{b.addEventListener('mouseenter',()=>{
  clear();const li=nodes[b.dataset.f];if(!li)return;li.firstElementChild.classList.add('hl');
  (bytes[b.dataset.f]||[]).forEach(x=>x.classList.add('hl'));});});
document.querySelectorAll('.step[data-records]').forEach(s=>{s.addEventListener('mouseenter',
  ()=>{clear();s.classList.add('hl');s.dataset.records.split(' ').forEach(r=>{
    const e=document.getElementById(r);if(e)e.querySelectorAll('.b').forEach(
      b=>b.classList.add('hl'));});});});
document.querySelectorAll('.step[data-from]').forEach(s=>{s.addEventListener('mouseenter',
  ()=>{s.dataset.from.split('|').forEach(n=>{const e=document.querySelector(
    '.step[data-name="'+CSS.escape(n)+'"]');if(e)e.classList.add('hl');});});});
})();
"""

_ARROWS = {"client": "client \u2192 server", "server": "server \u2192 client"}
_SPINE = ("psk", "early_secret", "early_secret (no PSK)", "derived (early)", "shared_secret",
          "handshake_secret", "derived (handshake)", "master_secret", "pre_master_secret",
          "key_block")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _byte_owner(explained: Explained) -> dict[tuple[int, str], list[tuple[int, int]]]:
    """For each record buffer, the (leaf id, colour index) of each of its bytes."""
    owners: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for record in explained.records:
        owners[(record.index, "wire")] = [(0, 0)] * len(record.wire)
        if record.plaintext is not None:
            owners[(record.index, "plaintext")] = [(0, 0)] * len(record.plaintext)
    colour = 0
    for tree in explained.fields():
        for leaf in tree.leaves():
            colour = (colour + 1) % 6
            for record_index, buffer, start, end in leaf.spans:
                owner = owners.get((record_index, buffer))
                if owner is None:
                    continue
                for position in range(start, min(end, len(owner))):
                    owner[position] = (leaf.id, colour)
    return owners


def _hex_block(data: bytes, owner: list[tuple[int, int]], prefix: str) -> str:
    shown_bytes = min(len(data), MAX_BYTES_SHOWN)
    parts = []
    for position in range(shown_bytes):
        field_id, colour = owner[position]
        parts.append(f'<span class="b f{colour}" data-f="{prefix}{field_id}">'
                     f"{data[position]:02x}</span>")
    if shown_bytes < len(data):
        parts.append(f'<span class="more"> \u2026 {len(data) - shown_bytes} more bytes</span>')
    return " ".join(parts)


def _tree(field: Field, prefix: str) -> str:
    mark = ' <span class="g">GREASE</span>' if field.grease else ""
    value = field.text or (str(field.value) if field.value is not None and not field.children
                           else "")
    value_html = f' <span class="v">{_e(value)}</span>' if value else ""
    rfc = f' <span class="r">{_e(field.rfc)}</span>' if field.rfc else ""
    meaning = f' <span class="m">\u2014 {_e(field.meaning)}</span>' if field.meaning else ""
    check = ""
    if field.check:
        good = field.check.startswith(("verified", "matches", "starts with client_version"))
        symbol = "\u2714" if good else "\u2718"
        check = f' <span class="{"ok" if good else "bad"}">{symbol} {_e(field.check)}</span>'
    children = "".join(_tree(child, prefix) for child in field.children)
    inner = f"<ul>{children}</ul>" if children else ""
    return (f'<li data-id="{prefix}{field.id}"><div><span class="n">{_e(field.name)}</span>{mark}'
            f"{value_html}{check}{rfc}{meaning}</div>{inner}</li>")


def _record(record: Record, explained: Explained,
            owners: dict[tuple[int, str], list[tuple[int, int]]], prefix: str) -> str:
    protection = (f' <span class="muted">protected by {_e(record.protection)}</span>'
                  if record.protection else "")
    hex_html = ('<span class="label">as sent on the wire</span>'
                + _hex_block(record.wire, owners[(record.index, "wire")], prefix))
    if record.plaintext is not None:
        hex_html += ('<span class="label">decrypted</span>'
                     + _hex_block(record.plaintext, owners[(record.index, "plaintext")],
                                  prefix))
    note = f'<div class="note">{_e(record.note)}</div>' if record.note else ""
    trees = [_tree(field, prefix) for field in record.tree.children]
    for index in record.messages:
        message = explained.messages[index]
        if message.records and message.records[0] != record.index:
            trees.append(f'<li><div class="muted">{_e(message.name)} continues from '
                         f'<a class="rec" href="#{prefix}record-{message.records[0]}">record '
                         f"#{message.records[0]}</a></div></li>")
        else:
            trees.append(_tree(message.tree, prefix))
    return (f'<section class="record {_e(record.sender)}" id="{prefix}record-{record.index}">'
            f'<h3>#{record.index} <span class="dir">{_ARROWS.get(record.sender, "")}</span> '
            f"{_e(record.tree.text)}{protection}</h3>"
            f'<div class="hex">{hex_html}{note}</div>'
            f'<div class="tree"><ul>{"".join(trees)}</ul></div></section>')


def _step(step: Step, show_secrets: bool, spine: bool, prefix: str, depth: int = 0) -> str:
    args = []
    for item in step.inputs:
        if item.ref:
            args.append(f"{_e(item.role)} = <b>{_e(item.ref)}</b>")
        else:
            value = (f" <code>{_e(shown(item.value, item.secret, show_secrets))}</code>"
                     if item.value is not None else "")
            args.append(f"{_e(item.role)} = {_e(item.text)}{value}")
    label = f'"{_e(step.label)}", ' if step.label else ""
    source = "" if step.source == "computed" else f' <span class="muted">[{_e(step.source)}]</span>'
    check = ""
    if step.check:
        good = step.check.startswith(("matches", "starts with client_version"))
        check = f'<div class="{"ok" if good else "bad"}">{_e(step.check)}</div>'
    protects = ""
    attributes = f' data-name="{_e(prefix + step.name)}"'
    refs = [prefix + item.ref for item in step.inputs if item.ref]
    if refs:
        attributes += f' data-from="{_e("|".join(refs))}"'
    if step.protects:
        records = " ".join(f"{prefix}record-{i}" for i in step.protects)
        attributes += f' data-records="{records}"'
        protects = "<div>protects " + ", ".join(
            f'<a class="rec" href="#{prefix}record-{i}">#{i}</a>' for i in step.protects
        ) + "</div>"
    style = f' style="--depth:{depth}"' if depth else ""
    return (f'<div class="step{" spine" if spine else ""}"{attributes}{style}>'
            f'<div><b>{_e(step.name)}</b>{source} <span class="r muted">{_e(step.rfc)}</span></div>'
            f'<div class="op">= {_e(step.operation)}({label}{"; ".join(args)})</div>'
            f'<div class="out mono">{_e(shown(step.output, step.secret, show_secrets))}</div>'
            f"{check}{protects}</div>")


def _schedule(explained: Explained, show_secrets: bool, prefix: str) -> Iterator[str]:
    """Stage secrets down the left; what each derives (and what that derives) beside it."""
    steps = explained.steps.items
    spine = [s for s in steps if s.name in _SPINE]
    children: dict[str, list[Step]] = {}
    for step in steps:
        if step.name in _SPINE:
            continue
        parent = next((i.ref for i in step.inputs if i.ref), "")
        children.setdefault(parent, []).append(step)

    def branch(name: str, depth: int) -> Iterator[str]:
        for child in children.get(name, []):
            yield _step(child, show_secrets, False, prefix, depth)
            yield from branch(child.name, depth + 1)

    for index, step in enumerate(spine):
        if index:
            yield '<div class="arrow">\u2193</div>'
        yield (f'<div class="row">{_step(step, show_secrets, True, prefix)}'
               f'<div class="branches">{"".join(branch(step.name, 0))}</div></div>')
    loose = children.get("", [])
    if loose:
        yield ('<div class="row"><div></div><div class="branches">'
               + "".join(_step(s, show_secrets, False, prefix) + "".join(branch(s.name, 1))
                         for s in loose) + "</div></div>")


def _connection(explained: Explained, show_secrets: bool, title: str, prefix: str) -> str:
    about = summary(explained)
    owners = _byte_owner(explained)
    facts = "".join(f"<span><span class=\"muted\">{_e(key.replace('_', ' '))}:</span> "
                    f"{_e(value)}</span>"
                    for key, value in about.items()
                    if value not in (None, "", False) and key not in ("client_random",
                                                                       "server_random"))
    notes = "".join(f'<p class="note">{_e(note)}</p>' for note in explained.notes)
    records = "".join(_record(r, explained, owners, prefix) for r in explained.records)
    schedule = "".join(_schedule(explained, show_secrets, prefix))
    secrets_note = ("Secrets are shown in full." if show_secrets else
                    "Secrets are shown as fingerprints (sha256:\u2026); run with "
                    "--show-secrets to see them.")
    return (f'<header><h2>{_e(title)}</h2><div class="facts">{facts}</div>{notes}</header>'
            f"<h3>Records</h3>{records}"
            f'<h3>Key schedule</h3><section class="schedule"><p class="muted">{secrets_note} '
            "Each secret is derived from the ones it names (RFC 8446 §7.1 for TLS 1.3, "
            "RFC 5246 §6.3 and §8.1 for TLS 1.2); each key lists the records it protects."
            f"</p>{schedule}</section>")


def render_html(connections: Sequence[tuple[str, Explained]], show_secrets: bool = False,
                title: str = "The illustrated connection") -> str:
    """One page for one or more connections, each given with its title."""
    body = "".join(_connection(explained, show_secrets, name, f"c{number}-")
                   for number, (name, explained) in enumerate(connections))
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_e(title)}</title><meta name=\"viewport\" content=\"width=device-width\">"
        f"<style>{_STYLE}</style></head><body><main>"
        f"<h1>{_e(title)}</h1><p class=\"muted\">Every byte of "
        f"{'this TLS connection' if len(connections) == 1 else 'these TLS connections'}, "
        "record by record, decrypted and explained by glasstls. Hover a field to see its "
        "bytes; hover a byte to see its field; hover a key to see the records it protects.</p>"
        f"{body}</main><script>{_SCRIPT}</script></body></html>\n"
    )
