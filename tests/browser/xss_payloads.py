"""Script-injection payloads for the XSS browser test: each one, if it ever ran, would say which it was.

Templates use two tokens: ``XSS`` becomes ``__xss=<n>`` (the page's sentinel) and ``ALERT``
becomes ``alert(<n>)`` (caught by the test's dialog handler), where n is the payload's number
(1-based), so a failure names the payload that ran. No payload starts or ends with blanks
(the importer strips them) and none holds NUL (PostgreSQL text cannot); a few are longer than
the 32 characters of a plate or the 64 of a phone and are stored cut to fit, which must be
harmless too.
"""

from __future__ import annotations

# (category, template)
TEMPLATES: tuple[tuple[str, str], ...] = (
    # script elements
    ("script", "<script>XSS</script>"),
    ("script", "<SCRIPT>XSS</SCRIPT>"),
    ("script", "<script>ALERT</script>"),
    ("script", '<script src="data:text/javascript,XSS"></script>'),
    ("script", "<scr<script>ipt>XSS</script>"),
    ("script", "<script/x>XSS</script>"),
    ("script", '<script type="module">XSS</script>'),
    # breaking out of an inline <script> (or of a raw-text element) the string might sit in
    ("breakout", "</script><script>XSS</script>"),
    ("breakout", "</SCRIPT ><script>XSS</script>"),
    ("breakout", "</script><img src=x onerror=XSS>"),
    ("breakout", "<!--<script>XSS</script>-->"),
    ("breakout", "</title><script>XSS</script>"),
    ("breakout", "</textarea><script>XSS</script>"),
    ("breakout", "</style><script>XSS</script>"),
    ("breakout", "</option></select><script>XSS</script>"),
    ("breakout", "]]></script><script>XSS</script>"),
    # event handlers
    ("handler", "<img src=x onerror=XSS>"),
    ("handler", '<img src="x" onerror="XSS">'),
    ("handler", "<IMG SRC=x OnErRoR=XSS>"),
    ("handler", "<img src=x:x onerror=ALERT>"),
    ("handler", "<svg onload=XSS>"),
    ("handler", "<svg/onload=XSS>"),
    ("handler", "<svg onload=confirm(N)>"),
    ("handler", "<body onload=XSS>"),
    ("handler", "<details open ontoggle=XSS>"),
    ("handler", "<input autofocus onfocus=XSS>"),
    ("handler", "<select autofocus onfocus=XSS></select>"),
    ("handler", "<textarea autofocus onfocus=XSS></textarea>"),
    ("handler", "<video><source onerror=XSS></video>"),
    ("handler", "<audio src=x onerror=XSS>"),
    ("handler", "<iframe onload=XSS></iframe>"),
    ("handler", "<object data=x onerror=XSS></object>"),
    ("handler", "<marquee onstart=XSS>x</marquee>"),
    ("handler", "<div onmouseover=XSS>hover</div>"),
    ("handler", "<a onclick=XSS>click</a>"),
    ("handler", "<form><button onclick=XSS>go</button></form>"),
    ("handler", "<link rel=stylesheet href=x onerror=XSS>"),
    ("handler", "<style onload=XSS></style>"),
    ("handler", '<img src=x onerror="&#95;&#95;xss=N">'),
    ("handler", r"<img src=x onerror=\u005f\u005fxss=N>"),
    ("handler", "<img src=x onerror=window['__xss']=N>"),
    # javascript: URLs
    ("url", "javascript:XSS"),
    ("url", '<a href="javascript:XSS">link</a>'),
    ("url", '<a href="JaVaScRiPt:XSS">link</a>'),
    ("url", '<a href="&#106;avascript:XSS">link</a>'),
    ("url", '<a href=" javascript:XSS">link</a>'),
    ("url", '<a href="java&#x09;script:XSS">link</a>'),
    ("url", '<a href="javascript&colon;XSS">link</a>'),
    ("url", '<iframe src="javascript:XSS"></iframe>'),
    ("url", '<iframe srcdoc="<script>parent.XSS</script>"></iframe>'),
    ("url", '<form action="javascript:XSS"><button>go</button></form>'),
    ("url", '<form><button formaction="javascript:XSS">go</button></form>'),
    ("url", '<object data="javascript:XSS"></object>'),
    ("url", '<embed src="javascript:XSS">'),
    ("url", '<meta http-equiv="refresh" content="0;url=javascript:XSS">'),
    ("url", '<base href="javascript:XSS//">'),
    # backticks and template literals
    ("backtick", "`;XSS;`"),
    ("backtick", "${XSS}"),
    ("backtick", "`${XSS}`"),
    ("backtick", "<img src=`x`onerror=XSS>"),
    ("backtick", "</script><script>`${XSS}`</script>"),
    # attribute and string breakouts
    ("attribute", '"><img src=x onerror=XSS>'),
    ("attribute", "'><img src=x onerror=XSS>"),
    ("attribute", '" autofocus onfocus="XSS'),
    ("attribute", "' autofocus onfocus='XSS"),
    ("attribute", '" onmouseover="XSS" x="'),
    ("attribute", '"><svg onload=XSS>'),
    ("attribute", "'-XSS-'"),
    ("attribute", '";XSS;//'),
    ("attribute", '\\";XSS;//'),
    # SVG
    ("svg", "<svg><script>XSS</script></svg>"),
    ("svg", '<svg><script href="data:,XSS"/></svg>'),
    ("svg", '<svg><a href="javascript:XSS"><text y="20">x</text></a></svg>'),
    ("svg", "<svg><animate onbegin=XSS attributeName=x dur=1s>"),
    ("svg", "<svg><foreignObject><img src=x onerror=XSS></foreignObject></svg>"),
    ("svg", "<svg><image href=x onerror=XSS /></svg>"),
    # styles
    ("style", '<div style="width:expression(XSS)">x</div>'),
    ("style", '<div style="background:url(javascript:XSS)">x</div>'),
    ("style", '<style>@import "javascript:XSS";</style>'),
    # parser differentials (mutation XSS)
    ("mxss", '<noscript><p title="</noscript><img src=x onerror=XSS>">'),
    ("mxss", "<math><mtext><table><mglyph><style><img src=x onerror=XSS>"),
    ("mxss", '<svg></p><style><a id="</style><img src=x onerror=XSS>">'),
    ("mxss", "<template><img src=x onerror=XSS></template>"),
    # Unicode and encodings
    ("unicode", "＜script＞XSS＜/script＞"),
    ("unicode", r"\u003cscript\u003eXSS\u003c/script\u003e"),
    ("unicode", "&lt;script&gt;XSS&lt;/script&gt;"),
    ("unicode", "%3Cscript%3EXSS%3C/script%3E"),
    ("unicode", "<img\u200b src=x onerror=XSS>"),
    ("unicode", "<img\x0csrc=x\x0conerror=XSS>"),
    ("unicode", "\u202e<img src=x onerror=XSS>"),
    ("unicode", "a\u2028</script><script>XSS</script>\u2029b"),
    ("unicode", "😀<svg onload=XSS>😀"),
    # Chinese text around payloads, as real names and notes would hold them
    ("chinese", "学生公寓<img src=x onerror=XSS>3号楼"),
    ("chinese", "京A<script>XSS</script>"),
    ("chinese", "备注：</script><script>XSS</script>"),
    ("chinese", '张三" onmouseover="XSS'),
    ("chinese", "中国农业大学${XSS}东校区"),
    # JSON and template breakers
    ("json", '"}]}<script>XSS</script>'),
    ("json", '\\"}]};XSS;//'),
    ("json", '{"a":"</script><script>XSS</script>"}'),
    ("json", "{{constructor.constructor('XSS')()}}"),
    ("json", "{{7*7}}{%raw%}<img src=x onerror=XSS>"),
)


def _render(number: int, template: str) -> str:
    return (template.replace("XSS", f"__xss={number}").replace("ALERT", f"alert({number})")
            .replace("(N)", f"({number})").replace("=N", f"={number}"))


PAYLOADS: tuple[str, ...] = tuple(_render(n, template) for n, (_, template) in enumerate(TEMPLATES, start=1))
CATEGORIES: dict[str, tuple[str, ...]] = {
    category: tuple(p for p, (c, _) in zip(PAYLOADS, TEMPLATES, strict=True) if c == category)
    for category in dict.fromkeys(c for c, _ in TEMPLATES)
}


def fit(payload: str, max_length: int) -> str:
    """The payload as a field of at most max_length characters stores it (cut, then stripped as the importer does)."""
    return payload[:max_length].strip()
