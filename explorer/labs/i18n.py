"""The labs' generated Markdown in the site's languages: English, and Chinese for the translated pages.

`explorer.labs.render` writes every sentence, table header and label of a lab page through a
`Messages` of the page's language: the English text is the message id (gettext's habit), so the
English pages are exactly what they were, and a message with no Chinese entry yet comes out in
English on a Chinese page (and is listed in `Messages.missing`, which the tests read).

What a results file says in words is English, written when the lab ran: the run titles, the
reason a lab was skipped, and each observation's explanation. On a Chinese page

- a run title or skip reason that `kexplore lab record` writes is matched and translated
  (`run_title`, `skip_reason`); any other text stays as the file has it;
- an explanation is written again in Chinese from the result's numbers (`explanation`), one
  writer per lab and observation, so that the numbers are the measured ones; an observation with
  no Chinese writer keeps the file's English text.

Numbers, JSON keys, sysctl names and kernel identifiers are never translated. Text from a file
is escaped by the caller exactly as in English (`md_text`, `md_code`, `code_spans`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from .results import (
    AcceptQueueResult,
    Explanation,
    FinalAckResult,
    LabResult,
    PortsResult,
    ReuseportResult,
    SynQueueResult,
)

# msgid (the English text, a str.format template) -> its Chinese; the values put into a template
# are Markdown already (escaped by the caller), the templates themselves are the project's own
ZH: dict[str, str] = {
    # the page's frame
    "Run it yourself: {command} (needs root).": "自己动手运行：{command}（需要 root）。",
    "Run it yourself: {command}.": "自己动手运行：{command}。",
    "*(no lab named {name})*": "*（没有名为 {name} 的实验）*",
    "Results recorded when this site was built": "构建本站时记录的结果",
    "The recorded results could not be read: {error}. Run the lab yourself: {command}.":
        "记录的结果无法读取：{error}。请自己运行这个实验：{command}。",
    "No results were recorded for this build. Record them with `kexplore lab record` "
    "(as root for the whole set), or run the lab yourself: {command}.":
        "这次构建没有记录结果。可以用 `kexplore lab record` 记录（以 root 运行才能记录全部实验），"
        "或者自己运行这个实验：{command}。",
    "Not recorded on Linux {kernel} ({when}): {reason}. Run it yourself: {command}.":
        "未在 Linux {kernel} 上记录（{when}）：{reason}。请自己运行：{command}。",
    "Recorded {when}.": "记录时间：{when}。",
    "Recorded on Linux {running}.": "记录于 Linux {running}。",
    "Recorded on Linux {running}; the code below is {title} ({version}), the same series.":
        "记录于 Linux {running}；下面的代码来自 {title}（{version}），属于同一系列。",
    "Recorded on Linux {running}; the code below is {title} ({version}).":
        "记录于 Linux {running}；下面的代码来自 {title}（{version}）。",
    "> **The running kernel differs from the vendored one.** The numbers come from {running}, the code "
    "quoted here from {version}. ":
        "> **运行中的内核与收录的内核不同。** 数字来自 {running}，这里引用的代码来自 {version}。",
    "Every prediction made from the vendored code held on the running kernel.":
        "根据收录代码作出的每一项预测，在运行中的内核上都成立。",
    "{count} prediction(s) did not hold (marked **differs**): the code that decided "
    "those numbers has changed between the two.":
        "有 {count} 项预测没有应验（标为 **不符**）：决定这些数字的代码在两个版本之间有了改动。",
    "at least {value}": "至少 {value}",
    " (**differs**)": "（**不符**）",
    "{text} Code: {refs}.": "{text}代码：{refs}。",
    ", ": "、",
    "The code it exercises ({title})": "实验所验证的代码（{title}）",
    "The vendored kernel is not indexed here, so the excerpts are missing; the symbols are: {symbols}. "
    "Run `kexplore vendor && kexplore index` (or `make index`).":
        "这里没有为收录的内核建立索引，所以缺少代码摘录；涉及的符号是：{symbols}。"
        "请运行 `kexplore vendor && kexplore index`（或 `make index`）。",
    # the tables' headers
    "| observation | measured | the vendored code predicts |": "| 观测项 | 实测值 | 收录代码的预测 |",
    "| observation | cookies off | predicted | cookies on | predicted |": "| 观测项 | 关闭 Cookie | 预测 | 开启 Cookie | 预测 |",
    "| listener (in the order they listened) | connections accepted |": "| 监听套接字（按调用 `listen()` 的先后） | 接受的连接数 |",
    "| listener (in the order they listened) | connections accepted after listener 1 closed |":
        "| 监听套接字（按调用 `listen()` 的先后） | 监听套接字 1 关闭后接受的连接数 |",
    "| ICMP destination unreachable | `connect()` failed with | the vendored code predicts |":
        "| ICMP 目的不可达 | `connect()` 失败时的错误 | 收录代码的预测 |",
    # the accept-queue lab
    "backlog passed to `listen()`": "传给 `listen()` 的 backlog",
    "clients connecting": "发起连接的客户端",
    "effective backlog (`ss -lnt` Send-Q)": "实际生效的 backlog（`ss -lnt` 的 Send-Q）",
    "in the accept queue (`ss -lnt` Recv-Q)": "全连接队列中的连接（`ss -lnt` 的 Recv-Q）",
    "clients stuck in SYN-SENT": "卡在 SYN-SENT 的客户端",
    "the peer address `accept()` returned for one child (IPv6 listener, IPv4 client)":
        "`accept()` 为一个子套接字返回的对端地址（IPv6 监听套接字，IPv4 客户端）",
    # the SYN-queue lab
    "Backlog {backlog} (applied: {effective}), {syns} SYNs, `net.core.somaxconn` = {somaxconn}, "
    "`net.ipv4.tcp_max_syn_backlog` = {max_syn_backlog} (inside the lab's namespace).":
        "backlog {backlog}（实际采用 {effective}），{syns} 个 SYN，`net.core.somaxconn` = {somaxconn}，"
        "`net.ipv4.tcp_max_syn_backlog` = {max_syn_backlog}（都是实验所在网络命名空间中的值）。",
    "SYN-RECV requests kept": "保留下来的 SYN-RECV 请求",
    # the final-ACK lab
    "Watched for {seconds} s after the final ACKs were let through.": "放行最后的 ACK 之后，观察了 {seconds} 秒。",
    "`net.ipv4.tcp_abort_on_overflow` (in the lab's namespace)": "`net.ipv4.tcp_abort_on_overflow`（实验的网络命名空间中）",
    "accept queue (`ss -lnt` Recv-Q / Send-Q)": "全连接队列（`ss -lnt` 的 Recv-Q / Send-Q）",
    "late clients sending their final ACK": "发出最后 ACK 的后到客户端",
    "late clients still ESTABLISHED": "仍处于 ESTABLISHED 的后到客户端",
    "late clients reset (ECONNRESET)": "被重置的后到客户端（ECONNRESET）",
    "requests the listener keeps (SYN-RECV)": "监听套接字保留的请求（SYN-RECV）",
    "TcpExt TCPSynRetrans (SYN-ACKs sent again)": "TcpExt TCPSynRetrans（重发的 SYN-ACK）",
    "requests completed once the lab accepted (made room)": "实验 `accept()` 腾出空间后完成的请求",
    "Watched for {seconds} s after the final ACKs were let through: the late clients sent nothing, so their "
    "final ACKs answer the listener's retransmitted SYN-ACKs.":
        "放行最后的 ACK 之后，观察了 {seconds} 秒：后到客户端什么也没发送，所以它们的最后 ACK 是对监听套接字重传的 SYN-ACK 的应答。",
    "seconds from the room to the last completion": "从腾出空间到最后一个连接完成的秒数",
    "TcpExt TCPSynRetrans once there was room": "腾出空间之后的 TcpExt TCPSynRetrans",
    # the final-ACK lab with --fastopen
    "`TCP_FASTOPEN` asked": "设置的 `TCP_FASTOPEN`",
    "the listener's Fast Open limit (`max_qlen`, `/proc/net/tcp`)": "监听套接字的 Fast Open 上限（`max_qlen`，取自 `/proc/net/tcp`）",
    "clients sending a SYN with data": "在 SYN 里携带数据的客户端",
    "children created from the SYN, in the accept queue before any final ACK": "由 SYN 创建、在任何最后的 ACK 之前就进入全连接队列的子套接字",
    "SYNs handled without Fast Open (requests in the SYN queue)": "没有走 Fast Open 的 SYN（半连接队列中的请求）",
    "children `accept()` returned in SYN_RECV": "`accept()` 返回时处于 SYN_RECV 的子套接字",
    "bytes of the SYNs' data read before the handshake completed": "握手完成之前读到的 SYN 数据字节数",
    "accepted children ESTABLISHED once the clients' ACKs got through": "客户端的 ACK 通过之后处于 ESTABLISHED 的已 accept 子套接字",
    # the SO_REUSEPORT lab
    "All listeners: {accepted} of {clients} connections (predicted: {predicted}). "
    "Connected again from the same source port: {same} of {repeated} reached the same "
    "listener (predicted: {predicted_same}).":
        "所有监听套接字合计接受了 {clients} 个连接中的 {accepted} 个（预测：{predicted}）。"
        "从同一个源端口再连接一次：{repeated} 个连接中有 {same} 个到达了同一个监听套接字（预测：{predicted_same}）。",
    # the SO_REUSEPORT lab with --close-first
    "`net.ipv4.tcp_migrate_req` (in the lab's namespace)": "`net.ipv4.tcp_migrate_req`（实验的网络命名空间中）",
    "listener 1's accept queue when it closed (`ss -lnt` Recv-Q)": "监听套接字 1 关闭时的全连接队列（`ss -lnt` 的 Recv-Q）",
    "listener 1's requests when it closed (SYN-RECV)": "监听套接字 1 关闭时的请求（SYN-RECV）",
    "queued connections whose client was reset": "客户端被重置的排队连接",
    "queued connections accepted on another listener": "在另一个监听套接字上被 accept 的排队连接",
    "pending handshakes whose client was reset": "客户端被重置的未完成握手",
    "pending handshakes accepted on another listener": "在另一个监听套接字上被 accept 的未完成握手",
    # the client's source port lab
    "Range {low} to {high}; destinations {first} and {second}; the first destination's source ports, in order: {ports}.":
        "范围 {low} 到 {high}；目的地 {first} 和 {second}；连向第一个目的地的源端口，按先后：{ports}。",
    "ports in `net.ipv4.ip_local_port_range` (in the lab's namespace)": "`net.ipv4.ip_local_port_range` 中的端口数（实验的网络命名空间中）",
    "connections to the first destination before `connect()` failed": "`connect()` 失败之前连向第一个目的地的连接",
    "the error of the next `connect()`": "下一次 `connect()` 的错误",
    "leading ports of the low end's parity": "开头那些与下限奇偶相同的端口",
    "connections to the second destination": "连向第二个目的地的连接",
    "source ports used towards both destinations at once": "同时用于两个目的地的源端口",
    "`net.ipv4.tcp_tw_reuse` (in the lab's namespace)": "`net.ipv4.tcp_tw_reuse`（实验的网络命名空间中）",
    "the port whose 4-tuple waited in TIME-WAIT": "四元组处于 TIME-WAIT 的那个端口",
    "a new connection took over the TIME-WAIT's 4-tuple (1 = yes)": "新连接接替了 TIME-WAIT 的四元组（1 = 是）",
}

CATALOGUES = {"zh": ZH}  # any other language: English

# names that are the same in every language (they are looked up, and found, as they are)
SAME = frozenset({"`net.core.somaxconn`", "TcpExt ListenOverflows", "TcpExt ListenDrops", "TcpExt TCPReqQFullDrop",
                  "TcpExt TCPReqQFullDoCookies", "TcpExt SyncookiesSent", "TcpExt EmbryonicRsts",
                  "TcpExt TCPFastOpenPassive", "TcpExt TCPFastOpenListenOverflow", "TcpExt TCPMigrateReqSuccess",
                  "TcpExt TCPMigrateReqFailure", "TcpExt TWRecycled"})


@dataclass
class Messages:
    """The messages of one language (English where it has no catalogue); `t(msgid, **values)` is the text."""

    language: str = "en"
    missing: set[str] = field(default_factory=set)

    def __call__(self, msgid: str, **values: object) -> str:
        template = msgid
        catalogue = CATALOGUES.get(self.language)
        if catalogue is not None and msgid not in SAME:
            found = catalogue.get(msgid)
            if found is None:
                self.missing.add(msgid)
            else:
                template = found
        return template.format(**values) if values else template

    def heading(self, msgid: str, **values: object) -> str:
        """A heading's text; on a translated page with the English heading's anchor, so that both have one id."""
        text = self(msgid, **values)
        if self.language == "en":
            return text
        anchor = slug(msgid.format(**values) if values else msgid)
        return f"{text} {{#{anchor}}}" if anchor else text


def slug(text: str) -> str:
    """The id Python-Markdown's toc gives an English heading (its default `slugify`), `[\\w-]` only."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


# ---------------------------------------------------------------- words from a results file

# the titles `kexplore lab record` gives its runs (explorer/labs/record.py)
_TITLES_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(a), b) for a, b in (
    (r"backlog (\d+), nine clients", "backlog {0}，9 个客户端"),
    (r"backlog (\d+) with net\.core\.somaxconn = (\d+): clamped", "backlog {0}，net.core.somaxconn = {1}：被截断"),
    (r"backlog (\d+): above net\.core\.somaxconn, clamped", "backlog {0}：超过 net.core.somaxconn，被截断"),
    (r"IPv6: backlog (\d+), nine clients on ::1", "IPv6：backlog {0}，9 个客户端连接 ::1"),
    (r"backlog (\d+), (\d+) SYNs", "backlog {0}，{1} 个 SYN"),
    (r"backlog (\d+), (\d+) SYNs, tcp_max_syn_backlog (\d+): the last quarter rule",
     "backlog {0}，{1} 个 SYN，tcp_max_syn_backlog {2}：最后四分之一规则"),
    (r"IPv6: backlog (\d+), (\d+) SYNs to ::1", "IPv6：backlog {0}，{1} 个 SYN 发往 ::1"),
    (r"tcp_abort_on_overflow = 0: the final ACK is dropped, and retried", "tcp_abort_on_overflow = 0：最后的 ACK 被丢弃，之后重试"),
    (r"tcp_abort_on_overflow = 1: the client gets a reset", "tcp_abort_on_overflow = 1：客户端收到 RST"),
    (r"(four|two) listeners, (\d+) connections", "{0} 个监听套接字，{1} 个连接"),
    (r"v4-mapped: an IPv6 listener, backlog (\d+), (nine) IPv4 clients", "v4 映射：IPv6 监听套接字，backlog {0}，{1} 个 IPv4 客户端"),
    (r"tcp_abort_on_overflow = 0, clients with nothing to send: the ACK of a retransmitted SYN-ACK",
     "tcp_abort_on_overflow = 0，客户端没有数据要发：重传的 SYN-ACK 所引出的 ACK"),
    (r"Fast Open: TCP_FASTOPEN (\d+), (four) clients send data in their SYN", "Fast Open：TCP_FASTOPEN {0}，{1} 个客户端在 SYN 里发送数据"),
    (r"closing listener (\d+) with tcp_migrate_req = 0: its connections are reset",
     "关闭监听套接字 {0}（tcp_migrate_req = 0）：它的连接被重置"),
    (r"closing listener (\d+) with tcp_migrate_req = 1: its connections move to the others",
     "关闭监听套接字 {0}（tcp_migrate_req = 1）：它的连接转到其他监听套接字"),
    # "eight" in Chinese numerals: the title's digits are the English title's (the test compares them)
    (r"eight ports, (two) destinations, and ICMP errors in SYN-SENT", "八个端口，{0} 个目的地，以及 SYN-SENT 中的 ICMP 错误"),
    (r"TIME-WAIT with tcp_tw_reuse = 2 \(loopback\): taken over", "tcp_tw_reuse = 2（回环）时的 TIME-WAIT：被接替"),
    (r"TIME-WAIT with tcp_tw_reuse = 0: EADDRNOTAVAIL", "tcp_tw_reuse = 0 时的 TIME-WAIT：EADDRNOTAVAIL"),
))
_NUMBERS = {"two": "2", "four": "4", "nine": "9"}

_SKIPS_ZH = {
    "recorded without root: this lab needs root (a network namespace of its own, with sysctls or nftables rules inside it)":
        "记录时没有 root 权限：这个实验需要 root（它要在自己的网络命名空间里设置 sysctl 或 nftables 规则）",
}


def run_title(language: str, title: str) -> str:
    """A recorded run's title in `language` (plain text: the caller escapes it); an unknown one as it is."""
    if language == "zh":
        for pattern, template in _TITLES_ZH:
            match = pattern.fullmatch(title)
            if match:
                return template.format(*(_NUMBERS.get(g, g) for g in match.groups()))
    return title


def skip_reason(language: str, reason: str) -> str:
    """Why a lab was not recorded, in `language` when it is the reason `kexplore lab record` gives."""
    return _SKIPS_ZH.get(reason, reason) if language == "zh" else reason


# ---------------------------------------------------------------- explanations, from the numbers

Writer = Callable[[LabResult, str], str]  # (the result, the operator of sk_acceptq_is_full) -> Chinese text


def _aq_backlog(r: LabResult, op: str) -> str:
    assert isinstance(r, AcceptQueueResult)
    head = f"`listen()` 要求的 backlog 是 {r.backlog}，内核采用的是 {r.effective_backlog}（`ss -lnt` 的 Send-Q）。"
    if r.backlog > r.somaxconn:
        return head + (f"{r.backlog} 超过了 `net.core.somaxconn` = {r.somaxconn}，`__sys_listen` 按 "
                       "`(unsigned int)backlog > somaxconn` 把它截断为 somaxconn，然后 `inet_listen` 才把它存入 `sk_max_ack_backlog`。")
    return head + (f"{r.backlog} 没有超过 `net.core.somaxconn` = {r.somaxconn}，所以 `__sys_listen` 原样放行，"
                   "由 `inet_listen` 存入 `sk_max_ack_backlog`。")


def _aq_queued(r: LabResult, op: str) -> str:
    assert isinstance(r, AcceptQueueResult)
    text = (f"{r.queued} 个连接完成了握手，在全连接队列里等待（`ss -lnt` 的 Recv-Q），backlog 为 {r.effective_backlog}："
            f"`sk_acceptq_is_full` 检查的是 `sk_ack_backlog {op} sk_max_ack_backlog`，所以队列要放进 backlog + 1 个连接才算满。")
    if r.v4_mapped:
        text += ("监听套接字是一个 IPv6 套接字（关闭了 IPV6_V6ONLY，绑定在 ::ffff:127.0.0.1），客户端是 IPv4 的：每个 SYN 经由 "
                 "`tcp_v4_rcv` 到达，监听套接字的 `conn_request` 即 `tcp_v6_conn_request` 把 IPv4 报文段交给 `tcp_v4_conn_request`，"
                 "到最后的 ACK 时 `tcp_v6_syn_recv_sock` 把它交给 `tcp_v4_syn_recv_sock`，后者做同样的 `sk_acceptq_is_full` 检查："
                 "这些 IPv4 连接按同样的规则填满 IPv6 监听套接字的全连接队列。"
                 + (f"随后 `accept()` 返回了一个对端为 {r.accepted_peer} 的子套接字：一个带 v4 映射地址的 IPv6 套接字（`ipv6_mapped` 操作表）。"
                    if r.accepted_peer else ""))
    if r.ipv6:
        text += ("走 IPv6（::1）时，握手经过 `tcp_v6_conn_request` 和 `tcp_v6_syn_recv_sock`，它们做同样的 "
                 "`sk_acceptq_is_full` 检查，并把 SYN 交给同一个 `tcp_conn_request`。")
    return text


def _aq_stuck(r: LabResult, op: str) -> str:
    assert isinstance(r, AcceptQueueResult)
    return (f"{r.syn_sent} 个客户端卡在 SYN-SENT：全连接队列已满，`tcp_conn_request` 丢弃它们的 SYN"
            "（即 `sk_acceptq_is_full(sk)` 那个检查），不作应答，客户端稍后会重传。")


def _aq_counters(r: LabResult, op: str) -> str:
    assert isinstance(r, AcceptQueueResult)
    return (f"TcpExt ListenOverflows 增加了 {r.overflows}，ListenDrops 增加了 {r.drops}：每个被丢弃的 SYN 在两者中各计一次"
            "（先是 `NET_INC_STATS(LINUX_MIB_LISTENOVERFLOWS)`，再是 `tcp_listendrop`），重传的 SYN 会再计一次，"
            "所以溢出次数至少等于卡住的客户端数"
            + ("（这个网络命名空间里的其他套接字也会计入：要得到干净的计数，请加 `--netns` 运行）。" if r.netns != "private" else "。"))


def _sq_backlog(r: LabResult, op: str) -> str:
    assert isinstance(r, SynQueueResult)
    return (f"`listen()` 要求的 backlog 是 {r.backlog}，监听套接字采用了 {r.effective_backlog}"
            f"（实验的网络命名空间中 `net.core.somaxconn` = {r.somaxconn}；超过它的值会被 `__sys_listen` 截断）。")


def _sq_cookies_off(r: LabResult, op: str) -> str:
    assert isinstance(r, SynQueueResult)
    off = r.runs[0]
    eff, max_syn = r.effective_backlog, r.tcp_max_syn_backlog
    quarter_cap = max_syn - (max_syn >> 2) + 1
    binding = "backlog" if eff + 1 <= quarter_cap else "`tcp_max_syn_backlog`"
    return (f"关闭 SYN Cookie 时，{r.syns} 个 SYN 中有 {off.syn_recv} 个作为 SYN-RECV 请求保留下来。"
            f"`tcp_conn_request` 在两种情况下拒绝 SYN：一是 `inet_csk_reqsk_queue_is_full`（qlen > `sk_max_ack_backlog`，"
            f"所以能放 backlog + 1 = {eff + 1} 个）；二是仅在关闭 Cookie 时，`tcp_max_syn_backlog` = {max_syn} 的空位剩下不到四分之一"
            f"（最多放 {quarter_cap} 个）。这里起限制作用的是 {binding}。被拒绝的 SYN 都被丢弃：ListenDrops +{off.drops}，"
            f"其中 TCPReqQFullDrop +{off.reqq_full_drop} 来自队列已满（`tcp_syn_flood_action`）；四分之一规则造成的丢弃没有自己的计数器。"
            + ("这些 SYN 走的是 IPv6，发往 ::1：`tcp_v6_conn_request` 把它们交给同一个 `tcp_conn_request`。" if r.ipv6 else ""))


def _sq_cookies_on(r: LabResult, op: str) -> str:
    assert isinstance(r, SynQueueResult)
    on = r.runs[1]
    return (f"开启 SYN Cookie 时，{r.syns} 个 SYN 中有 {on.syn_recv} 个作为请求保留下来：队列满了以后，`tcp_syn_flood_action` "
            f"改用 Cookie 应答，而不是丢弃：TCPReqQFullDoCookies +{on.reqq_full_do_cookies}，SyncookiesSent +{on.cookies_sent}，"
            f"ListenDrops +{on.drops}。Cookie 不保存状态：连接的信息编码在 SYN-ACK 的序列号里（`cookie_init_sequence` "
            "累加 SyncookiesSent，`cookie_v4_init_sequence` 计算序列号），所以无论来多少 SYN，半连接队列都有上限，"
            "`tcp_max_syn_backlog` 也不再起作用。")


def _sq_half_open(r: LabResult, op: str) -> str:
    assert isinstance(r, SynQueueResult)
    return ("实验的 nftables 规则丢弃了每一个 SYN-ACK，所以没有请求完成握手，也没有请求被重置；每个保留下来的请求都连同一个"
            "重传定时器插入哈希表（`inet_csk_reqsk_queue_hash_add`），并计入监听套接字的 `icsk_accept_queue.qlen`"
            "（`inet_csk_reqsk_queue_len`；这个队列由 `reqsk_queue_alloc` 在开始监听时初始化）。请求要在 "
            f"`tcp_synack_retries` = {r.runs[0].sysctls.tcp_synack_retries} 次重传之后才会过期，那时实验早已观察完毕。")


def _fa_filled(r: LabResult, op: str) -> str:
    assert isinstance(r, FinalAckResult)
    return (f"全连接队列中有 {r.queued} 个连接，backlog 为 {r.effective_backlog}：`sk_acceptq_is_full` 检查的是 "
            f"`sk_ack_backlog {op} sk_max_ack_backlog`，所以队列已满。监听套接字先以更大的 backlog 监听，好让后到客户端的请求"
            f"和填充队列的连接都放得下，然后再调用一次 `listen({r.backlog})`：对已经在监听的套接字，`inet_listen` 只保存新的 backlog。")


def _fa_check(r: LabResult, op: str) -> str:
    assert isinstance(r, FinalAckResult)
    first = ("每个后到客户端发出的那个字节都确认了 SYN-ACK，所以 `tcp_check_req` 把它当作最后的 ACK" if r.client_data else
             "后到客户端放行后什么也没发送：最先到达监听套接字的报文段，是监听套接字的请求定时器（`reqsk_timer_handler`）重传 SYN-ACK"
             "（`inet_rtx_syn_ack`）时每个客户端回的 ACK；这个 ACK 确认了 SYN-ACK，所以 `tcp_check_req` 把它当作最后的 ACK")
    return (first + "，调用 `syn_recv_sock`："
            f"全连接队列已满，`tcp_v4_syn_recv_sock` 拒绝创建子套接字（ListenOverflows +{r.listen_overflows}，"
            f"ListenDrops +{r.listen_drops}），`tcp_check_req` 于是跳到 `listen_overflow` 标签，读取 "
            f"`net.ipv4.tcp_abort_on_overflow` = {r.abort_on_overflow}（实验的网络命名空间中的值）。")


def _fa_kept(r: LabResult, op: str) -> str:
    assert isinstance(r, FinalAckResult)
    if not r.client_data:
        return ("取值为 0 时，这个标签把请求标记为已确认（acked）并返回 NULL：ACK 被丢弃，什么也不回。"
                f"{r.clients} 个客户端中有 {r.established} 个仍处于 ESTABLISHED，监听套接字仍保留着 {r.server_syn_recv} 个 SYN-RECV 请求"
                f"（{r.watched_seconds} 秒内 TCPSynRetrans +{r.synack_retransmits}，请求上统计到 {r.request_retransmits} 次重传）。"
                f"随后实验接受了队列中的 {r.queued} 个连接，腾出了空间。没有东西要发的客户端什么也不重传：只有监听套接字下一次重传 "
                "SYN-ACK 才会再引出一个 ACK，而正是这个 ACK 创建了子套接字。"
                f"{r.server_syn_recv} 个等待中的请求里有 {r.completed_after_accept} 个完成了"
                + (f"，最后一个在腾出空间 {r.completed_seconds} 秒之后完成" if r.completed_seconds is not None else "")
                + f"，其间又重发了 TCPSynRetrans +{r.synack_retransmits_after_accept} 个 SYN-ACK。")
    return ("取值为 0 时，这个标签把请求标记为已确认（acked）并返回 NULL：报文段被丢弃，什么也不回。"
            f"{r.clients} 个客户端中有 {r.established} 个仍处于 ESTABLISHED（它们的 `send()` 一共返回了 {r.bytes_sent} 字节；"
            f"{r.reset} 个被重置），监听套接字仍保留着 {r.server_syn_recv} 个 SYN-RECV 请求，它的请求定时器（`reqsk_timer_handler`）"
            f"重传了 SYN-ACK（{r.watched_seconds} 秒内 TCPSynRetrans +{r.synack_retransmits}）。客户端应答每个 SYN-ACK，"
            "并重传自己的那个字节（对重传的 SYN-ACK 也会再确认一次），每个这样的报文段都再次碰上满队列：ListenOverflows 不断增长。"
            f"随后实验接受了队列中的 {r.queued} 个连接，腾出了空间：{r.server_syn_recv} 个等待中的请求里，有 "
            f"{r.completed_after_accept} 个在客户端下一次重试时完成（`inet_csk_complete_hashdance` 把每个子套接字移入全连接队列），"
            "不需要重新握手"
            + (f"，最后一个在腾出空间 {r.completed_seconds} 秒之后完成。" if r.completed_seconds is not None else "。"))


def _fa_reset(r: LabResult, op: str) -> str:
    assert isinstance(r, FinalAckResult)
    return ("取值为 1 时，这个标签接着执行到 `embryonic_reset`：监听套接字回一个 RST，并把请求从哈希表中移除"
            f"（`inet_csk_reqsk_queue_drop`；EmbryonicRsts +{r.embryonic_rsts}）。{r.clients} 个客户端中有 {r.reset} 个"
            f"收到 ECONNRESET；{r.established} 个仍处于 ESTABLISHED，监听套接字保留着 {r.server_syn_recv} 个请求。")


def _rp_listeners(r: LabResult, op: str) -> str:
    assert isinstance(r, ReuseportResult)
    counts = "、".join(str(n) for n in r.per_listener)
    fair = r.clients / r.listeners if r.listeners else 0.0
    return (f"{r.listeners} 个监听套接字共用端口 {r.port}：每个都在 `bind()` 之前设置了 `SO_REUSEPORT`，所以 `inet_csk_get_port` "
            "允许它们共用这个端口；`listen()` 按它们开始监听的先后，把它们放进同一个 reuseport 组（`inet_reuseport_add_sock`、"
            f"`reuseport_add_sock`）。{sum(r.per_listener)} 个连接依次被各监听套接字接受了 {counts} 个（从第 1 个监听套接字算起；"
            f"平均分配的话，每个应为 {fair:.1f} 个）。")


def _rp_selection(r: LabResult, op: str) -> str:
    return ("对每个 SYN，`__inet_lookup_listener` 在监听哈希表中找到这个组，`inet_lookup_reuseport` 请 `reuseport_select_sock` "
            "挑一个成员：没有挂 BPF 程序时，`reuseport_select_sock_by_hash` 取 `reciprocal_scale(hash, n)`，其中 hash 是 "
            "`inet_ehashfn` 对连接的地址和端口算出的哈希值。各监听套接字分到的数目不均匀，就像彼此独立的随机抽取那样，而不是轮流分配。")


def _rp_again(r: LabResult, op: str) -> str:
    assert isinstance(r, ReuseportResult)
    return (f"随后每个客户端从同一个源端口再连接一次：{r.repeated} 个第二次连接中，有 {r.same_listener_again} 个到达了接受第一次"
            "连接的那个监听套接字。哈希值只取决于四元组（以及启动时定下的一个密钥），所以只要组不变，同一个四元组总是选中同一个成员。")


def _pt_first(r: LabResult, op: str) -> str:
    assert isinstance(r, PortsResult)
    low, high = r.port_range
    return (f"实验的网络命名空间中 `net.ipv4.ip_local_port_range` 为 {low} {high}（{r.ports} 个端口）。连向 "
            f"127.0.0.1:{r.destinations[0]} 的未绑定客户端依次得到源端口 {', '.join(str(p) for p in r.source_ports_first)}："
            "`inet_hash_connect` 从对地址和目的端口做的带密钥哈希（`inet_sk_port_offset`）开始，`__inet_hash_connect` 从那里遍历"
            f"范围，先是 {r.first_pass_parity} 个与下限奇偶相同的端口，然后是其余的端口。放下了 {r.connected_first} 个连接，"
            f"下一次 `connect()` 以 {r.first_error or '（没有错误）'} 失败。")


def _pt_shared(r: LabResult, op: str) -> str:
    assert isinstance(r, PortsResult)
    return (f"连向第二个目的地 127.0.0.1:{r.destinations[1]} 的连接又放下了 {r.connected_second} 个，其中 {r.shared_ports} 个"
            "用的是连向第一个目的地的客户端仍占着的端口：由 `connect()` 创建的绑定桶（fastreuse -1），只要 "
            "`__inet_check_established` 判定四元组唯一就可以共用，所以上限是按目的地算的，而不是按机器。")


def _pt_time_wait(r: LabResult, op: str) -> str:
    assert isinstance(r, PortsResult)
    text = (f"然后端口 {r.tw_port} 的客户端先关闭，于是那个四元组在 TIME-WAIT 中等待，而范围内其余每个端口仍在用于连向 "
            f"127.0.0.1:{r.destinations[0]}。一秒之后，又有一个客户端连向那里，此时 `net.ipv4.tcp_tw_reuse` = {r.tw_reuse}"
            f"（`tcp_timestamps` = {r.tcp_timestamps}）：")
    if r.tw_reused:
        why = "为 1" if r.tw_reuse == 1 else "为 2，允许回环连接"
        return text + (f"它在端口 {r.new_port} 上接替了 TIME-WAIT 的四元组（TWRecycled +{r.tw_recycled}）：`tcp_twsk_unique` "
                       f"允许这样做，因为旧连接带有时间戳、已经过了一秒，而且 `tcp_tw_reuse` {why}。")
    return text + (f"`connect()` 失败了（TWRecycled +{r.tw_recycled}）：`tcp_tw_reuse` 为 0 时 `tcp_twsk_unique` 拒绝复用这个四元组，"
                   "所以范围内已没有端口可用。")


def _pt_icmp(r: LabResult, op: str) -> str:
    assert isinstance(r, PortsResult)
    got = "、".join(f"{name} {error or '（没有错误）'}" for name, error in r.icmp_errors.items())
    return ("在端口那几步之前，nftables 规则对发往 127.0.0.3 的 SYN 回以 ICMP 目的不可达错误，每个目的端口一种代码，每个端口各有一个"
            f"客户端去连接：{got}，最慢的一个用了 {r.icmp_seconds} 秒。`tcp_v4_err` 按 ICMP 报文中引用的 TCP 首部找到处于 SYN-SENT "
            "的套接字，用 `icmp_err_convert` 转换代码，而由于这次尝试还没有同步，它立即结束这次尝试（`tcp_done_with_error`）："
            "`connect()` 返回这个错误，而不是重传 SYN。")


def _fo_children(r: LabResult, op: str) -> str:
    assert isinstance(r, FinalAckResult)
    from .fastopen import DATA, TFO_SYSCTL

    return (f"实验的网络命名空间中 `net.ipv4.tcp_fastopen` = {TFO_SYSCTL:#x}（服务端开启，不需要 Cookie），监听套接字上 "
            f"`TCP_FASTOPEN` = {r.fastopen}（`fastopen_queue_tune`：`fastopenq.max_qlen` = {r.fastopen_max_qlen}，即 "
            f"`/proc/net/tcp` 的最后一列）；{r.clients} 个后到客户端发出带 {len(DATA)} 字节数据的 SYN，它们的最后 ACK 被拦下。"
            f"`tcp_conn_request` 为每个 SYN 询问 `tcp_try_fastopen`：{r.fastopen_children} 个成为子套接字"
            f"（`tcp_fastopen_create_child`，TCPFastOpenPassive +{r.fastopen_passive}），立即排进全连接队列等待 `accept()`"
            f"（`inet_csk_reqsk_queue_add`）：在任何握手完成之前，全连接队列里已有 {r.queued} 个连接。")


def _fo_overflow(r: LabResult, op: str) -> str:
    assert isinstance(r, FinalAckResult)
    return (f"`tcp_fastopen_queue_check` 把每个子套接字计入 `fastopenq.qlen`，直到它的握手完成：有 {r.fastopen_max_qlen} 个"
            f"未完成之后，其余的 SYN 发现 Fast Open 队列已满（TCPFastOpenListenOverflow +{r.fastopen_listen_overflow}），"
            f"按普通 SYN 处理：{r.fastopen_requests} 个请求在半连接队列中等待，它们的数据没有被接受。")


def _fo_accepted(r: LabResult, op: str) -> str:
    assert isinstance(r, FinalAckResult)
    return (f"`accept()` 返回了 {r.accepted_syn_recv} 个仍处于 SYN_RECV 的子套接字（`inet_csk_accept` 让它们的请求继续挂着），"
            f"`read()` 在握手完成之前就读到了它们 SYN 中的 {r.data_before_handshake} 字节数据。规则删除、每个客户端再发送一次之后，"
            "这个报文段的 ACK 完成了握手（`tcp_rcv_state_process`、`tcp_rcv_synrecv_state_fastopen`、`reqsk_fastopen_remove`）："
            f"其中 {r.established_after_release} 个处于 ESTABLISHED。")


def _rp_close_setup(r: LabResult, op: str) -> str:
    assert isinstance(r, ReuseportResult)
    return (f"监听套接字 1 单独在端口 {r.port} 上监听：{r.queued_at_close} 个连接完成握手，在它的全连接队列里等待；"
            f"{r.syn_recv_at_close} 个后到客户端的请求在它的半连接队列里等待（它们的最后 ACK 被拦下）。然后又有 "
            f"{r.listeners - 1} 个监听套接字加入组，监听套接字 1 不 accept 就关闭，此时实验的网络命名空间中 "
            f"`net.ipv4.tcp_migrate_req` = {r.migrate_req}。`close()` 最终进入 `inet_csk_listen_stop`，在此之前 `inet_unhash` "
            "已把监听套接字 1 移出监听哈希表，`reuseport_stop_listen_sock` 已把它移出组里正在监听的成员。")


def _rp_close_queue(r: LabResult, op: str) -> str:
    assert isinstance(r, ReuseportResult)
    if r.migrate_req:
        return ("取 1 时，`reuseport_stop_listen_sock` 把监听套接字 1 作为已关闭的成员留在组里，所以 `inet_csk_listen_stop` 为每个"
                "子套接字找到另一个成员（`reuseport_migrate_sock`，按连接的哈希），克隆它的请求（`inet_reqsk_clone`）并排进那里的队列："
                f"{r.queued_at_close} 个排队连接中有 {r.migrated_queued} 个在其他监听套接字上被 accept，{r.reset_queued} 个客户端被重置"
                f"（TCPMigrateReqSuccess +{r.migrate_req_success}，TCPMigrateReqFailure +{r.migrate_req_failure}）。")
    return ("取 0 时，`reuseport_stop_listen_sock` 立即把监听套接字 1 从组里摘掉，所以 `reuseport_migrate_sock` 没有成员可以提供，"
            "`inet_csk_listen_stop` 断开每个子套接字（`inet_child_forget`），这会重置它的客户端："
            f"{r.queued_at_close} 个排队的客户端中有 {r.reset_queued} 个得到 ECONNRESET，{r.migrated_queued} 个在别处被 accept。")


def _rp_close_pending(r: LabResult, op: str) -> str:
    assert isinstance(r, ReuseportResult)
    if r.migrate_req:
        return ("关闭时不会遍历半连接队列。后到客户端的最后 ACK 到达时，`tcp_v4_rcv` 发现它的请求所属的监听套接字 1 已不再监听，"
                "便向 `reuseport_migrate_sock` 要一个成员：请求被迁移过去并在那里完成："
                f"{r.pending} 个后到客户端中有 {r.migrated_pending} 个在其他监听套接字上被 accept，{r.reset_pending} 个被重置。")
    return ("关闭时不会遍历半连接队列。后到客户端的最后 ACK 到达时，`tcp_v4_rcv` 发现它的请求所属的监听套接字 1 已不再监听，而且无处迁移："
            "它丢弃这个请求，重新查找这个 ACK，这次找到的是组里的另一个监听套接字，而监听套接字对 ACK 回以 RST："
            f"{r.pending} 个后到客户端中有 {r.reset_pending} 个被重置，{r.migrated_pending} 个在别处被 accept。")


EXPLANATIONS_ZH: dict[tuple[str, str], Writer] = {
    ("accept-queue", "effective_backlog"): _aq_backlog,
    ("accept-queue", "queued"): _aq_queued,
    ("accept-queue", "syn_sent"): _aq_stuck,
    ("accept-queue", "overflows"): _aq_counters,
    ("syn-queue", "effective_backlog"): _sq_backlog,
    ("syn-queue", "syn_recv (cookies off)"): _sq_cookies_off,
    ("syn-queue", "syn_recv (cookies on)"): _sq_cookies_on,
    ("syn-queue", "half-open"): _sq_half_open,
    ("final-ack", "filled"): _fa_filled,
    ("final-ack", "listen_overflows"): _fa_check,
    ("final-ack", "established"): _fa_kept,
    ("final-ack", "reset"): _fa_reset,
    ("reuseport", "per_listener"): _rp_listeners,
    ("reuseport", "selection"): _rp_selection,
    ("reuseport", "same_listener_again"): _rp_again,
    ("final-ack", "fastopen_children"): _fo_children,
    ("final-ack", "fastopen_listen_overflow"): _fo_overflow,
    ("final-ack", "accepted_syn_recv"): _fo_accepted,
    ("reuseport", "queued_at_close"): _rp_close_setup,
    ("reuseport", "reset_queued"): _rp_close_queue,
    ("reuseport", "migrated_queued"): _rp_close_queue,
    ("reuseport", "reset_pending"): _rp_close_pending,
    ("reuseport", "migrated_pending"): _rp_close_pending,
    ("ports", "connected_first"): _pt_first,
    ("ports", "shared_ports"): _pt_shared,
    ("ports", "tw_reused"): _pt_time_wait,
    ("ports", "icmp_errors"): _pt_icmp,
}


def explanation(language: str, result: LabResult, item: Explanation, full_op: str = ">") -> str:
    """An explanation's text in `language`: the Chinese written from the result's numbers, else the file's text.

    The text is plain text with kernel names in backticks, for `render.code_spans`."""
    if language == "zh":
        writer = EXPLANATIONS_ZH.get((result.lab, item.observation))
        if writer is not None:
            return writer(result, full_op if full_op in (">", ">=") else ">")
    return item.text
