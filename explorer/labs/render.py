"""Markdown for the site's lab pages: recorded results, explanations, and live code excerpts.

No MkDocs here: the site's plugin calls one of these from its own hook.

- `expand_lab_markers(markdown, project, results_dir=None, link=None)`: replace each
  `<!-- kexplore-lab: NAME -->` line of a page with `render_lab_markdown(...)` for lab NAME
  (call it from `on_page_markdown`). The marker is an HTML comment, so the page is valid
  Markdown without the plugin too.
- `render_lab_markdown(project, lab, results, link=None)`: the Markdown itself.

How symbols and code appear, for a site that has its own syntax or none:

- default: symbols as code spans with their vendored `path:line`, excerpts as ```c fences
  read from the vendored tree (plain Markdown, valid anywhere);
- `link(ref) -> str | None`: turn a `CodeRef` (symbol, path, line) into a URL of the site's
  code pages, making each symbol a Markdown link;
- `site_syntax=True`: emit the explorer site's commentary syntax instead, `[[symbol]]` links and
  `[[source:symbol]]` live embeds (explorer/site/markdown.py), which the site's Markdown
  extension then resolves, highlights and cross-links.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from pathlib import Path

from ..config import Project
from . import lab_info
from .accept_queue import _full_operator
from .code import CodeRef, KernelCode, same_series
from .i18n import Messages, explanation, run_title, skip_reason, slug
from .results import (
    AcceptQueueResult,
    FinalAckResult,
    LabRecord,
    LabResult,
    PortsResult,
    ResultsDamaged,
    ReuseportResult,
    SynQueueResult,
    SynQueueRun,
    disagreements,
)

# the site plugin's logger: a damaged results file is a warning of the site build
log = logging.getLogger("mkdocs.plugins.kernel_explorer")

MARKER = re.compile(r"^[ \t]*<!--\s*kexplore-lab:\s*([a-z0-9-]+)\s*-->[ \t]*$", re.MULTILINE)
Link = Callable[[CodeRef], "str | None"]


def _SITE_SYNTAX(ref: CodeRef) -> str | None:
    return None


def expand_lab_markers(
    markdown: str,
    project: Project,
    results_dir: Path | None = None,
    *,
    link: Link | None = None,
    site_syntax: bool = False,
    kernel: str | None = None,
    language: str = "en",
) -> str:
    """Replace `<!-- kexplore-lab: NAME -->` lines with the lab's rendered Markdown, in `language` ("en", "zh")."""
    if "kexplore-lab:" not in markdown:
        return markdown
    from .record import load_results

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        try:
            lab_info(name)
        except KeyError:
            return Messages(language)("*(no lab named {name})*", name=f"`{name}`")
        try:
            results, unreadable = load_results(results_dir, name), None
        except ResultsDamaged as exc:
            log.warning("%s", exc)
            results, unreadable = None, str(exc)
        return render_lab_markdown(
            project, name, results, link=link, site_syntax=site_syntax, kernel=kernel, unreadable=unreadable, language=language
        )

    return MARKER.sub(replace, markdown)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


# What Python-Markdown reads as syntax after html.escape: a backslash before each makes it text.
_MD_SYNTAX = re.compile(r"([\\`*_{}\[\]()#+\-.!])")
_SYMBOL = re.compile(r"[A-Za-z_]\w*")


def md_text(value: object) -> str:
    """Text read from a results file as Markdown text: no HTML, links, emphasis or site syntax, one line."""
    return _MD_SYNTAX.sub(r"\\\1", html.escape(str(value), quote=False)).replace("\n", " ").replace("\r", " ")


def md_code(value: object) -> str:
    """Text read from a results file as one Markdown code span, whatever backticks it holds."""
    text = str(value).replace("\n", " ").replace("\r", " ")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _ref_md(ref: CodeRef, link: Link | None) -> str:
    where = f" ({md_code(f'{ref.path}:{ref.line}')})" if ref.path else ""
    if not _SYMBOL.fullmatch(ref.symbol):  # not a C name (a damaged or hostile file): plain text, no link
        return md_code(ref.symbol) + where
    if link is _SITE_SYNTAX:
        return f"[[{ref.symbol}]]{where}"
    text = f"`{ref.symbol}`"
    url = link(ref) if link else None
    if url:
        text = f"[{text}]({url})"
    return text + where


def _kernel_note(result: LabResult, t: Messages, disagreements: int = 0) -> str:
    vendored = result.vendored_kernel
    running = md_code(result.kernel)
    if vendored is None:
        return t("Recorded on Linux {running}.", running=running)
    version = md_code(vendored.version or vendored.name)
    title = md_text(vendored.title)
    if same_series(result.kernel, vendored.version):
        return t("Recorded on Linux {running}; the code below is {title} ({version}), the same series.", running=running, title=title, version=version)
    return (
        t("Recorded on Linux {running}; the code below is {title} ({version}).", running=running, title=title, version=version) + "\n\n"
        + t("> **The running kernel differs from the vendored one.** The numbers come from {running}, the code "
            "quoted here from {version}. ", running=running, version=version)
        + (
            t("Every prediction made from the vendored code held on the running kernel.")
            if not disagreements
            else t("{count} prediction(s) did not hold (marked **differs**): the code that decided "
                   "those numbers has changed between the two.", count=disagreements)
        )
    )


def _predicted(result: AcceptQueueResult | SynQueueRun | FinalAckResult | ReuseportResult | PortsResult, key: str, t: Messages) -> str:
    predicted, agrees = result.predicted, result.agrees
    if key in predicted:
        value = str(predicted[key])
    elif f"{key}_at_least" in predicted:
        value = t("at least {value}", value=predicted[key + "_at_least"])
    else:
        return "-"
    return value + ("" if agrees.get(key, True) else t(" (**differs**)"))


_IDENTIFIER = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def code_spans(text: str) -> str:
    """Put kernel identifiers (anything with an underscore, and net.* sysctls) of plain text in code spans.

    Keeps Markdown from reading `__sys_listen ... __` as bold, and sets names apart; text
    already inside backticks is left alone.
    """

    def outside(part: str) -> str:
        """Identifiers in code spans, everything else escaped (no HTML, links or emphasis from the text)."""
        out, at = [], 0
        for match in _IDENTIFIER.finditer(part):
            word = match.group(0)
            out.append(md_text(part[at : match.start()]))
            out.append(f"`{word}`" if "_" in word or word.startswith("net.") else md_text(word))
            at = match.end()
        out.append(md_text(part[at:]))
        return "".join(out)

    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unclosed backtick: the last part is text, not code
        parts[-2:] = [parts[-2] + "`" + parts[-1]]
    # even parts are outside code spans; odd ones are code, re-fenced so that nothing leaks out
    return "".join(
        outside(part) if i % 2 == 0 else (md_code(part) if part.strip() else md_text(f"`{part}`")) for i, part in enumerate(parts)
    )


def _explanations(result: LabResult, link: Link | None, t: Messages, full_op: str) -> list[str]:
    lines = []
    for item in result.explanations:
        refs = t(", ").join(_ref_md(ref, link) for ref in item.code)
        text = code_spans(explanation(t.language, result, item, full_op))
        lines.append("- " + t("{text} Code: {refs}.", text=text, refs=refs))
    return lines


def _accept_queue_run(result: AcceptQueueResult, link: Link | None, t: Messages, full_op: str) -> list[str]:
    rows = [
        ("backlog passed to `listen()`", result.backlog, "-"),
        ("`net.core.somaxconn`", result.somaxconn, "-"),
        ("clients connecting", result.clients, "-"),
        ("effective backlog (`ss -lnt` Send-Q)", result.effective_backlog, _predicted(result, "effective_backlog", t)),
        ("in the accept queue (`ss -lnt` Recv-Q)", result.queued, _predicted(result, "queued", t)),
        ("clients stuck in SYN-SENT", result.syn_sent, _predicted(result, "syn_sent", t)),
        ("TcpExt ListenOverflows", f"+{result.overflows}", _predicted(result, "overflows", t)),
        ("TcpExt ListenDrops", f"+{result.drops}", "-"),
    ]
    if result.v4_mapped:  # the --json key is accepted_peer
        rows.append(("the peer address `accept()` returned for one child (IPv6 listener, IPv4 client)", md_code(result.accepted_peer or "-"), "-"))
    lines = [t("| observation | measured | the vendored code predicts |"), "|---|---:|---:|"]
    lines += [f"| {_cell(t(a))} | {_cell(b)} | {_cell(c)} |" for a, b, c in rows]
    return [*lines, "", *_explanations(result, link, t, full_op)]


SYN_QUEUE_ROWS = (
    ("SYN-RECV requests kept", "syn_recv"),
    ("TcpExt ListenDrops", "drops"),
    ("TcpExt TCPReqQFullDrop", "reqq_full_drop"),
    ("TcpExt TCPReqQFullDoCookies", "reqq_full_do_cookies"),
    ("TcpExt SyncookiesSent", "cookies_sent"),
)


def _syn_queue_run(result: SynQueueResult, link: Link | None, t: Messages, full_op: str) -> list[str]:
    off, on = result.runs
    lines = [
        t("Backlog {backlog} (applied: {effective}), {syns} SYNs, `net.core.somaxconn` = {somaxconn}, "
          "`net.ipv4.tcp_max_syn_backlog` = {max_syn_backlog} (inside the lab's namespace).",
          backlog=result.backlog, effective=result.effective_backlog, syns=result.syns, somaxconn=result.somaxconn,
          max_syn_backlog=result.tcp_max_syn_backlog),
        "",
        t("| observation | cookies off | predicted | cookies on | predicted |"),
        "|---|---:|---:|---:|---:|",
    ]
    for label, key in SYN_QUEUE_ROWS:
        lines.append(f"| {t(label)} | {getattr(off, key)} | {_predicted(off, key, t)} | {getattr(on, key)} | {_predicted(on, key, t)} |")
    return [*lines, "", *_explanations(result, link, t, full_op)]


# with tcp_abort_on_overflow 0, after the lab made room: (label, FinalAckResult field = --json key)
FINAL_ACK_ROOM_ROWS = (
    ("seconds from the room to the last completion", "completed_seconds"),
    ("TcpExt TCPSynRetrans once there was room", "synack_retransmits_after_accept"),
)


# --fastopen Q: (label, FinalAckResult field = --json key)
FINAL_ACK_FASTOPEN_ROWS = (
    ("`TCP_FASTOPEN` asked", "fastopen"),
    ("the listener's Fast Open limit (`max_qlen`, `/proc/net/tcp`)", "fastopen_max_qlen"),
    ("clients sending a SYN with data", "clients"),
    ("children created from the SYN, in the accept queue before any final ACK", "fastopen_children"),
    ("SYNs handled without Fast Open (requests in the SYN queue)", "fastopen_requests"),
    ("TcpExt TCPFastOpenPassive", "fastopen_passive"),
    ("TcpExt TCPFastOpenListenOverflow", "fastopen_listen_overflow"),
    ("children `accept()` returned in SYN_RECV", "accepted_syn_recv"),
    ("bytes of the SYNs' data read before the handshake completed", "data_before_handshake"),
    ("accepted children ESTABLISHED once the clients' ACKs got through", "established_after_release"),
)


def _final_ack_fastopen_run(r: FinalAckResult, link: Link | None, t: Messages, full_op: str) -> list[str]:
    lines = [t("| observation | measured | the vendored code predicts |"), "|---|---:|---:|"]
    lines += [f"| {t(label)} | {_cell(getattr(r, key))} | {_predicted(r, key, t)} |" for label, key in FINAL_ACK_FASTOPEN_ROWS]
    return [*lines, "", *_explanations(r, link, t, full_op)]


def _final_ack_run(result: FinalAckResult, link: Link | None, t: Messages, full_op: str) -> list[str]:
    r = result
    if r.fastopen is not None:
        return _final_ack_fastopen_run(r, link, t, full_op)
    rows = [
        ("`net.ipv4.tcp_abort_on_overflow` (in the lab's namespace)", r.abort_on_overflow, "-"),
        ("accept queue (`ss -lnt` Recv-Q / Send-Q)", f"{r.queued} / {r.effective_backlog}", "-"),
        ("late clients sending their final ACK", r.clients, "-"),
        ("late clients still ESTABLISHED", r.established, _predicted(r, "established", t)),
        ("late clients reset (ECONNRESET)", r.reset, _predicted(r, "reset", t)),
        ("requests the listener keeps (SYN-RECV)", r.server_syn_recv, _predicted(r, "server_syn_recv", t)),
        ("TcpExt ListenOverflows", f"+{r.listen_overflows}", _predicted(r, "listen_overflows", t)),
        ("TcpExt TCPSynRetrans (SYN-ACKs sent again)", f"+{r.synack_retransmits}", _predicted(r, "synack_retransmits", t)),
        ("TcpExt EmbryonicRsts", f"+{r.embryonic_rsts}", _predicted(r, "embryonic_rsts", t)),
    ]
    if r.completed_after_accept is not None:
        rows.append(("requests completed once the lab accepted (made room)", r.completed_after_accept, _predicted(r, "completed_after_accept", t)))
        rows += [(label, "-" if getattr(r, key) is None else getattr(r, key), _predicted(r, key, t)) for label, key in FINAL_ACK_ROOM_ROWS]
    watched = md_text(r.watched_seconds)
    lines = [
        t("Watched for {seconds} s after the final ACKs were let through.", seconds=watched) if r.client_data else
        t("Watched for {seconds} s after the final ACKs were let through: the late clients sent nothing, "
          "so their final ACKs answer the listener's retransmitted SYN-ACKs.", seconds=watched),
        "",
    ]
    lines += [t("| observation | measured | the vendored code predicts |"), "|---|---:|---:|"]
    lines += [f"| {_cell(t(a))} | {_cell(b)} | {_cell(c)} |" for a, b, c in rows]
    return [*lines, "", *_explanations(r, link, t, full_op)]


# --close-first: (label, ReuseportResult field); the field names are the --json keys
REUSEPORT_CLOSE_ROWS = (
    ("`net.ipv4.tcp_migrate_req` (in the lab's namespace)", "migrate_req"),
    ("listener 1's accept queue when it closed (`ss -lnt` Recv-Q)", "queued_at_close"),
    ("listener 1's requests when it closed (SYN-RECV)", "syn_recv_at_close"),
    ("queued connections whose client was reset", "reset_queued"),
    ("queued connections accepted on another listener", "migrated_queued"),
    ("pending handshakes whose client was reset", "reset_pending"),
    ("pending handshakes accepted on another listener", "migrated_pending"),
    ("TcpExt TCPMigrateReqSuccess", "migrate_req_success"),
    ("TcpExt TCPMigrateReqFailure", "migrate_req_failure"),
)


def _reuseport_close_run(r: ReuseportResult, link: Link | None, t: Messages, full_op: str) -> list[str]:
    lines = [t("| observation | measured | the vendored code predicts |"), "|---|---:|---:|"]
    lines += [f"| {t(label)} | {_cell(getattr(r, key))} | {_predicted(r, key, t)} |" for label, key in REUSEPORT_CLOSE_ROWS]
    lines += ["", t("| listener (in the order they listened) | connections accepted after listener 1 closed |"), "|---|---:|"]
    lines += [f"| {i + 1} | {n} |" for i, n in enumerate(r.per_listener)]
    return [*lines, "", *_explanations(r, link, t, full_op)]


def _reuseport_run(result: ReuseportResult, link: Link | None, t: Messages, full_op: str) -> list[str]:
    r = result
    if r.close_first:
        return _reuseport_close_run(r, link, t, full_op)
    lines = [t("| listener (in the order they listened) | connections accepted |"), "|---|---:|"]
    lines += [f"| {i + 1} | {n} |" for i, n in enumerate(r.per_listener)]
    lines += [
        "",
        t("All listeners: {accepted} of {clients} connections (predicted: {predicted}). "
          "Connected again from the same source port: {same} of {repeated} reached the same "
          "listener (predicted: {predicted_same}).",
          accepted=sum(r.per_listener), clients=r.clients, predicted=_predicted(r, "accepted", t),
          same=r.same_listener_again, repeated=r.repeated, predicted_same=_predicted(r, "same_listener_again", t)),
        "",
    ]
    return [*lines, *_explanations(r, link, t, full_op)]


# (label, PortsResult field = --json key)
PORTS_ROWS = (
    ("ports in `net.ipv4.ip_local_port_range` (in the lab's namespace)", "ports"),
    ("connections to the first destination before `connect()` failed", "connected_first"),
    ("the error of the next `connect()`", "first_error"),
    ("leading ports of the low end's parity", "first_pass_parity"),
    ("connections to the second destination", "connected_second"),
    ("source ports used towards both destinations at once", "shared_ports"),
)
PORTS_TIME_WAIT_ROWS = (
    ("`net.ipv4.tcp_tw_reuse` (in the lab's namespace)", "tw_reuse"),
    ("the port whose 4-tuple waited in TIME-WAIT", "tw_port"),
    ("a new connection took over the TIME-WAIT's 4-tuple (1 = yes)", "tw_reused"),
    ("TcpExt TWRecycled", "tw_recycled"),
)


def _ports_run(r: PortsResult, link: Link | None, t: Messages, full_op: str) -> list[str]:
    rows = PORTS_ROWS + (PORTS_TIME_WAIT_ROWS if r.tw_reuse is not None else ())
    lines = [
        t("Range {low} to {high}; destinations {first} and {second}; the first destination's source ports, in order: {ports}.",
          low=r.port_range[0], high=r.port_range[1], first=f"`127.0.0.1:{r.destinations[0]}`",
          second=f"`127.0.0.1:{r.destinations[1]}`", ports=t(", ").join(str(p) for p in r.source_ports_first)),
        "",
        t("| observation | measured | the vendored code predicts |"),
        "|---|---:|---:|",
    ]
    lines += [f"| {t(label)} | {md_text(getattr(r, key) if getattr(r, key) not in (None, '') else '-')} | {_predicted(r, key, t)} |"
              for label, key in rows]
    if r.icmp_errors:  # --json keys icmp_errors and icmp_predicted: the ICMP code's nftables name -> errno name
        lines += ["", t("| ICMP destination unreachable | `connect()` failed with | the vendored code predicts |"), "|---|---:|---:|"]
        for name, error in r.icmp_errors.items():
            want = r.icmp_predicted.get(name, "-")
            lines.append(f"| {md_text(name)} | {md_text(error or '-')} | {md_text(want)}{'' if want in ('-', error) else t(' (**differs**)')} |")
    return [*lines, "", *_explanations(r, link, t, full_op)]


def _run_section(result: LabResult, link: Link | None, t: Messages, full_op: str) -> list[str]:
    if isinstance(result, PortsResult):
        return _ports_run(result, link, t, full_op)
    if isinstance(result, SynQueueResult):
        return _syn_queue_run(result, link, t, full_op)
    if isinstance(result, FinalAckResult):
        return _final_ack_run(result, link, t, full_op)
    if isinstance(result, ReuseportResult):
        return _reuseport_run(result, link, t, full_op)
    return _accept_queue_run(result, link, t, full_op)


def _results_section(lab: str, results: LabRecord | None, link: Link | None, unreadable: str | None, t: Messages,
                     full_op: str) -> list[str]:
    info = lab_info(lab)
    command = f"`{info.command}`"
    lines = ["## " + t.heading("Results recorded when this site was built"), ""]
    if unreadable:
        return [*lines, t("The recorded results could not be read: {error}. Run the lab yourself: {command}.",
                          error=md_text(unreadable), command=command), ""]
    if results is None or (not results.runs and not results.skipped):
        return [
            *lines,
            t("No results were recorded for this build. Record them with `kexplore lab record` "
              "(as root for the whole set), or run the lab yourself: {command}.", command=command),
            "",
        ]
    if results.skipped:
        return [
            *lines,
            t("Not recorded on Linux {kernel} ({when}): {reason}. Run it yourself: {command}.", kernel=md_code(results.kernel),
              when=md_text(results.recorded_at), reason=md_text(skip_reason(t.language, results.skipped)), command=command),
            "",
        ]
    runs = results.runs
    wrong = sum(disagreements(run.result) for run in runs)
    lines += [_kernel_note(runs[0].result, t, wrong), "", t("Recorded {when}.", when=md_text(results.recorded_at)), ""]
    for run in runs:
        title = md_text(run_title(t.language, run.title))
        anchor = slug(run.title) if t.language != "en" else ""
        lines += [f"### {title}" + (f" {{#{anchor}}}" if anchor else ""), "", md_code(run.command), ""]
        lines += _run_section(run.result, link, t, full_op)
        lines.append("")
    return lines


def _code_section(code: KernelCode, lab: str, link: Link | None, t: Messages) -> list[str]:
    info = lab_info(lab)
    lines = ["## " + t.heading("The code it exercises ({title})", title=code.title), ""]
    if not code.indexed:
        return lines + [
            t("The vendored kernel is not indexed here, so the excerpts are missing; the symbols are: {symbols}. "
              "Run `kexplore vendor && kexplore index` (or `make index`).", symbols=", ".join(f"`{name}`" for name in info.symbols)),
            "",
        ]
    for name in info.symbols:
        ref = code.ref(name)
        if link is _SITE_SYNTAX:
            lines += [f"### `{name}`", "", f"[[source:{name}]]", ""]
            continue
        source = code.source(name)
        lines += [f"### `{name}`", "", _ref_md(ref, link) + ":", ""]
        lines += ["```c", source if source is not None else f"/* {name}: source not available */", "```", ""]
    return lines


def render_lab_markdown(
    project: Project,
    lab: str,
    results: LabRecord | None = None,
    *,
    link: Link | None = None,
    site_syntax: bool = False,
    kernel: str | None = None,
    unreadable: str | None = None,
    language: str = "en",
    messages: Messages | None = None,
) -> str:
    """A lab page's generated part: the command, the recorded results, and the code it exercises.

    `results` is a file written by `kexplore lab record` (see `explorer.labs.record.load_results`),
    or None when nothing was recorded; `unreadable` says why a file that is there could not be read.
    `language` is the page's ("en", or "zh" for the Chinese edition: explorer/labs/i18n.py); or pass
    `messages`, which then lists what had no translation (`Messages.missing`).
    """
    info = lab_info(lab)
    t = messages or Messages(language)
    if site_syntax:
        link = _SITE_SYNTAX
    command = f"`{info.command}`"
    lines = [t("Run it yourself: {command} (needs root).", command=command) if info.needs_root
             else t("Run it yourself: {command}.", command=command), ""]
    with KernelCode(project, kernel) as code:
        lines += _results_section(lab, results, link, unreadable, t, _full_operator(code) or ">")
        lines += _code_section(code, lab, link, t)
    return "\n".join(lines).rstrip() + "\n"
