"""report_check.py - opens a chorus-stats HTML report in headless Chromium
(from file://) and checks it works as a reader would use it:

  - it loads with no console error, no exception and no dialog, and
    holds exactly its own two script elements (a hostile string of the
    log must show as text, never run);
  - its totals are those of the document;
  - a table sorts when its header is clicked (by text, then by number,
    then reversed), with a real mouse click;
  - the date filter (from/to) changes the totals to the sums of the
    document's days in that range; the node and status filters give the
    sums of the nodes' days and of the days' status counts; the path
    prefix filter keeps only matching rows;
  - a screenshot of the whole page is saved in the output directory.

usage: report_check.py --html PAGE --data DOCUMENT.json --out DIR [--name NAME]
                       [--hostile S]... [--load-only]
Exit status 0: passed; 1: failed (the reason on stderr); 77: Chromium is
not available (the reason on stdout, "skip: ...").
"""
import argparse
import base64
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def problems(b):
    """Console errors, exceptions and dialogs the page has produced."""
    out = []
    for method, p in b.events:
        if method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            out.append("exception: %s" % d.get("exception", {}).get("description", d.get("text")))
        elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            out.append("console.%s: %s" % (p["type"], " ".join(
                str(a.get("value", a.get("description"))) for a in p["args"])))
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            out.append("log: %s" % p["entry"]["text"])
        elif method == "Page.javascriptDialogOpening":
            out.append("dialog: %s %r" % (p["type"], p["message"]))
    return out


def kpis(b):
    return b.eval("""Object.fromEntries([...document.querySelectorAll('[data-kpi]')]
        .map(e => [e.dataset.kpi, e.dataset.value === '' ? null : Number(e.dataset.value)]))""")


def column(b, table, col):
    """The data-value (or text) of column col of each body row of the table
    (all rows: the table is expanded first when it is long)."""
    b.eval("""(() => { const m = document.querySelector('[data-more="%s"]');
        if (m && m.textContent.startsWith('Show all')) m.click(); })()""" % table)
    return b.eval("""[...document.querySelectorAll('table[data-table="%s"] tbody tr:not(.other):not(.more)')]
        .map(tr => { const td = tr.children[%d]; return td.dataset.value !== undefined
            ? (isNaN(td.dataset.value) ? td.dataset.value : Number(td.dataset.value))
            : td.textContent; })""" % (table, col))


def click(b, selector):
    """A real left click in the middle of the element."""
    r = b.eval("""(() => { const e = document.querySelector(%s);
        if (!e) return null; e.scrollIntoView({block: 'center'});
        const r = e.getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2]; })()""" % json.dumps(selector))
    check(r is not None, "nothing to click at %s" % selector)
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        b.call("Input.dispatchMouseEvent", type=kind, x=r[0], y=r[1], button="left",
               clickCount=0 if kind == "mouseMoved" else 1)


def set_input(b, id_, value, event):
    b.eval("""(() => { const e = document.getElementById(%s); e.value = %s;
        e.dispatchEvent(new Event(%s, {bubbles: true})); })()""" % (
        json.dumps(id_), json.dumps(value), json.dumps(event)))


def sums(list_, keys=("requests", "visitors", "bytes")):
    return {k: sum(d[k] for d in list_) for k in keys}


def check_sorting(b):
    table = b.eval("document.querySelector('#tables table').dataset.table")
    keys = column(b, table, 0)
    check(len(set(keys)) >= 2, "table %s has fewer than two keys" % table)
    click(b, "#tables th:nth-child(1)")
    after = column(b, table, 0)
    check(after == sorted(keys, key=lambda k: str(k).encode("utf-16-be")) and after != keys,
          "table %s not sorted by its key column after a click: %r" % (table, after[:5]))
    check(b.eval("document.querySelector('#tables th:nth-child(1)').getAttribute('aria-sort')")
          == "ascending", "sorted column not marked")
    click(b, "#tables th:nth-child(2)")
    desc = column(b, table, 1)
    check(desc == sorted(desc, reverse=True), "requests not descending after a click: %r" % desc[:8])
    click(b, "#tables th:nth-child(2)")
    asc = column(b, table, 1)
    check(asc == sorted(asc) and asc != desc, "requests not reversed by a second click: %r" % asc[:8])
    print("sort: table %s by key and by requests both ways (%d rows)" % (table, len(asc)))


def check_filters(b, doc):
    days = doc["days"]
    whole = kpis(b)
    check(whole["requests"] == doc["totals"]["requests"] and whole["bytes"] == doc["totals"]["bytes"]
          and whole["visitors"] == doc["totals"]["visitors"],
          "totals %r differ from the document's %r" % (whole, doc["totals"]))
    check(len(days) >= 2, "the document needs two days for the date filter test")
    lo, hi = days[1]["date"], days[-2 if len(days) > 2 else -1]["date"]
    set_input(b, "from", lo, "change")
    set_input(b, "to", hi, "change")
    sel = [d for d in days if lo <= d["date"] <= hi]
    want = sums(sel)
    got = kpis(b)
    check(all(got[k] == want[k] for k in want), "totals for %s..%s: %r, expected %r" % (lo, hi, got, want))
    check(got["requests"] != whole["requests"], "the date filter did not change the totals")
    print("date filter %s..%s: requests %d -> %d, visitors %d -> %d, bytes %d -> %d" % (
        lo, hi, whole["requests"], got["requests"], whole["visitors"], got["visitors"],
        whole["bytes"], got["bytes"]))

    node = doc["nodes"][0]
    b.eval("""(() => { const s = document.getElementById('node');
        for (const o of s.options) o.selected = o.value === %s;
        s.dispatchEvent(new Event('change', {bubbles: true})); })()""" % json.dumps(node["node"]))
    want = sums([d for d in node["days"] if lo <= d["date"] <= hi])
    got = kpis(b)
    check(all(got[k] == want[k] for k in want), "node %s: %r, expected %r" % (node["node"], got, want))
    b.eval("""(() => { const s = document.getElementById('node');
        for (const o of s.options) o.selected = false;
        s.dispatchEvent(new Event('change', {bubbles: true})); })()""")

    set_input(b, "status", "404, 5xx", "input")
    want = sum(r for d in sel for code, r in d["statuses"].items()
               if code == "404" or code.startswith("5"))
    got = kpis(b)
    check(got["requests"] == want and got["bytes"] is None,
          "status 404,5xx: requests %r, bytes %r; expected %d, None" % (got["requests"], got["bytes"], want))
    set_input(b, "status", "", "input")

    b.eval("document.getElementById('reset').click()")
    check(kpis(b)["requests"] == whole["requests"], "Reset did not restore the totals")
    paths = doc["tables"].get("paths", {}).get("rows", [])
    if paths:
        prefix = paths[-1]["key"][:max(1, len(paths[-1]["key"]) // 2)]
        b.eval("""(() => { const b = document.querySelector('[data-tab="paths"]'); if (b) b.click(); })()""")
        set_input(b, "prefix", prefix, "input")
        keys = column(b, "paths", 0)
        want = [r["key"] for r in paths if r["key"].startswith(prefix)]
        check(sorted(keys) == sorted(want), "prefix %r: %d rows, expected %d" % (prefix, len(keys), len(want)))
        set_input(b, "prefix", "", "input")
    print("node, status and path prefix filters: as the document's sums")


def check_hostile(b, hostile):
    # The drill-down of the first node and every table, so that each
    # hostile string is drawn somewhere.
    b.eval("""(() => { const n = document.querySelector('table[data-table="nodes"] button');
        if (n) n.click(); })()""")
    seen = []
    for tab in b.eval("[...document.querySelectorAll('[data-tab]')].map(e => e.dataset.tab)"):
        b.eval("document.querySelector('[data-tab=%s]').click()" % json.dumps(tab))
        seen += b.eval("""[...document.querySelectorAll('td, option, h1, h3, pre, title')]
            .map(e => e.textContent)""")
    for s in hostile:
        check(any(s in t for t in seen), "hostile string %r is not shown as text" % s)
    check(b.eval("document.scripts.length") == 2, "the page has scripts of its own making")
    for tag in ("img", "iframe", "object", "embed", "svg script", "a[href^='javascript']"):
        check(b.eval("document.querySelectorAll(%s).length" % json.dumps(tag)) == 0,
              "a %s element was injected" % tag)
    check(not b.eval("window.pwned === true"), "a hostile string ran")
    print("hostile strings: %d shown as text, none ran" % len(hostile))


def screenshot(b, path):
    m = b.call("Page.getLayoutMetrics")
    size = m.get("cssContentSize") or m["contentSize"]
    shot = b.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                  clip={"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 12000),
                        "scale": 1})
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    print("screenshot: %s" % path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--html", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="report")
    ap.add_argument("--hostile", action="append", default=[])
    ap.add_argument("--load-only", action="store_true",
                    help="only load the page and take the screenshot (a document with no days)")
    a = ap.parse_args()
    doc = json.load(open(a.data, encoding="utf-8"))
    os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="chorus-chromium-")
    try:
        b = cdp.Browser(work)
    except cdp.Unavailable as e:
        print("skip: %s" % e)
        shutil.rmtree(work, ignore_errors=True)
        return 77
    try:
        for domain in ("Page", "Runtime", "Log"):
            b.call(domain + ".enable")
        b.call("Emulation.setDeviceMetricsOverride", width=1280, height=900,
               deviceScaleFactor=1, mobile=False)
        mark = len(b.events)
        b.call("Page.navigate", url="file://" + os.path.abspath(a.html))
        b.wait_event("Page.loadEventFired", since=mark)
        check(b.eval("document.getElementById('app').children.length") > 0, "nothing drawn")
        check(b.eval("document.title") == doc.get("title", "Access statistics"), "title not set")
        if a.load_only:
            check(kpis(b)["requests"] == doc["totals"]["requests"], "totals differ from the document's")
        else:
            check(b.eval("document.querySelectorAll('svg.chart').length") > 0, "no chart drawn")
            check_filters(b, doc)
            check_sorting(b)
        if a.hostile:
            check_hostile(b, a.hostile)
        b.eval("document.getElementById('reset').click()")
        b.eval("""(() => { const n = document.querySelector('table[data-table="nodes"] button');
            if (n) n.click(); window.scrollTo(0, 0); })()""")
        screenshot(b, os.path.join(os.path.abspath(a.out), a.name + ".png"))
        bad = problems(b)
        check(not bad, "the page reported: " + "; ".join(bad))
        return 0
    except (Failed, RuntimeError, TimeoutError, ConnectionError) as e:
        print("error: %s" % e, file=sys.stderr)
        for p in problems(b):
            print("  page: %s" % p, file=sys.stderr)
        return 1
    finally:
        b.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
