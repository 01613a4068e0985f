"""axe-core in a real page under the page's own Content-Security-Policy, with the rule list pinned.

axe-core (MPL-2.0, ``tests/vendor/axe-core/``, unchanged from ``npm pack axe-core``) is served by
Playwright from a same-origin address that the browser context intercepts (``/__axe__/axe.min.js``),
and loaded as an ordinary ``<script src>``: ``script-src 'self'`` allows it, so the tests need no
``bypass_csp`` and the ``browser`` fixture's CSP watch stays on for everything else on the page.

The rules are pinned by name (``RULES``) and run as ``runOnly: {type: "rule"}``: lowering the tags
cannot silence one, and a newer axe-core whose WCAG A/AA tags name a rule that is not in the list
fails ``check_pinned`` until the list is looked at again.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AXE_URL_PATH = "/__axe__/axe.min.js"
AXE_VERSION = "4.14.1"

# WCAG 2.0, 2.1 and 2.2, levels A and AA, as axe-core 4.14.1 tags them.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
# Every rule axe-core 4.14.1 tags with one of TAGS (axe.getRules(TAGS)), experimental ones included.
RULES = [
    "area-alt", "aria-allowed-attr", "aria-braille-equivalent", "aria-command-name", "aria-conditional-attr",
    "aria-deprecated-role", "aria-hidden-body", "aria-hidden-focus", "aria-input-field-name", "aria-meter-name",
    "aria-progressbar-name", "aria-prohibited-attr", "aria-required-attr", "aria-required-children",
    "aria-required-parent", "aria-roledescription", "aria-roles", "aria-tab-name", "aria-toggle-field-name",
    "aria-tooltip-name", "aria-valid-attr", "aria-valid-attr-value", "audio-caption", "autocomplete-valid",
    "avoid-inline-spacing", "blink", "button-name", "bypass", "color-contrast", "css-orientation-lock",
    "definition-list", "dlitem", "document-title", "duplicate-id-aria", "form-field-multiple-labels",
    "frame-focusable-content", "frame-title", "frame-title-unique", "html-has-lang", "html-lang-valid",
    "html-xml-lang-mismatch", "image-alt", "input-button-name", "input-image-alt", "label",
    "label-content-name-mismatch", "link-in-text-block", "link-name", "list", "listitem", "marquee",
    "meta-refresh", "meta-viewport", "nested-interactive", "no-autoplay-audio", "object-alt", "p-as-heading",
    "role-img-alt", "scrollable-region-focusable", "select-name", "server-side-image-map", "summary-name",
    "svg-img-alt", "table-fake-caption", "target-size", "td-has-header", "td-headers-attr", "th-has-data-cells",
    "valid-lang", "video-caption",
]
# A few best-practice rules that catch real faults on these pages (a dialog without a name, two landmarks
# that read the same, an empty heading).
EXTRA_RULES = ["aria-dialog-name", "landmark-unique", "empty-heading"]


def serve_axe(context: Any) -> Any:
    """Let every page of this browser context load axe-core from its own origin."""
    body = AXE_JS.read_bytes()
    context.route("**" + AXE_URL_PATH, lambda route: route.fulfill(
        status=200, body=body, headers={"Content-Type": "application/javascript; charset=utf-8"}))
    return context


def _load(page: Any) -> None:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(url=AXE_URL_PATH)
        page.wait_for_function("() => typeof window.axe === 'object'")


def check_pinned(page: Any) -> None:
    """The loaded axe-core is the pinned one, and its WCAG A/AA tags name no rule outside ``RULES``."""
    _load(page)
    assert page.evaluate("() => axe.version") == AXE_VERSION
    tagged = set(page.evaluate("(tags) => axe.getRules(tags).map(r => r.ruleId)", TAGS))
    known = set(page.evaluate("() => axe.getRules().map(r => r.ruleId)"))
    assert tagged <= set(RULES), f"axe-core tags rules not in the pinned list: {sorted(tagged - set(RULES))}"
    assert set(RULES + EXTRA_RULES) <= known, f"pinned rules axe-core does not know: {sorted(set(RULES + EXTRA_RULES) - known)}"


def violations(page: Any, *, include: str | None = None) -> list[dict[str, Any]]:
    """axe-core's violations of the pinned rules on the page as it is now (optionally within a selector)."""
    _load(page)
    return list(page.evaluate(
        """async ([rules, include]) => {
            const r = await axe.run(include ? { include: [include] } : document,
                                    { runOnly: { type: "rule", values: rules }, resultTypes: ["violations"] });
            return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({ target: n.target.join(" "), summary: n.failureSummary })) }));
        }""", [RULES + EXTRA_RULES, include]))


def describe(found: list[dict[str, Any]]) -> str:
    """A readable list of violations for an assertion message."""
    lines = []
    for v in found:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for n in v["nodes"][:6]:
            lines.append(f"    {n['target']}: {(n['summary'] or '').splitlines()[-1].strip()}")
    return "\n".join(lines)


def assert_clean(page: Any, where: str, *, include: str | None = None) -> None:
    """Fail with every violation named if the page (in its present state) breaks a pinned rule."""
    found = violations(page, include=include)
    assert not found, f"axe-core on {where}:\n{describe(found)}\n{json.dumps([v['id'] for v in found])}"
