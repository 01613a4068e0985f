#!/bin/sh
# Start a Növbə ticket kiosk: Chromium full screen on the kiosk page, no way out by touch.
#
#   kiosk/launch-kiosk.sh 'http://10.0.0.2:5000/kiosk/?token=…'   first time
#   kiosk/launch-kiosk.sh 'http://10.0.0.2:5000/kiosk/'            afterwards
#
# The kiosk keeps its device token in the browser profile (localStorage), so the token is
# needed in the address only once. Chromium is restarted if it exits or crashes. Tickets are
# printed by the server, not by the browser: nothing to set up for printing here.
#
# Environment:
#   NOVBE_BROWSER         the browser to run (default: chromium, chromium-browser or google-chrome)
#   NOVBE_KIOSK_PROFILE   its profile folder (default: ~/.local/share/novbe-kiosk)
#   NOVBE_KIOSK_ONCE=1    run the browser once instead of restarting it
#   NOVBE_KIOSK_DRY_RUN=1 print the command instead of running it
# See docs/install.md.
set -eu

usage() {
    echo "usage: $0 URL   (e.g. 'http://SERVER:5000/kiosk/?token=TOKEN')" >&2
    exit 2
}

[ $# -eq 1 ] || usage
URL=$1
case $URL in
    http://*/kiosk/*|https://*/kiosk/*) ;;
    *) echo "$0: $URL is not a kiosk address (http://SERVER:PORT/kiosk/)" >&2; exit 2 ;;
esac

BROWSER=${NOVBE_BROWSER:-}
if [ -z "$BROWSER" ]; then
    for candidate in chromium chromium-browser google-chrome; do
        if command -v "$candidate" >/dev/null 2>&1; then BROWSER=$candidate; break; fi
    done
fi
if [ -z "$BROWSER" ]; then
    echo "$0: no Chromium found: apt-get install chromium (or set NOVBE_BROWSER)" >&2
    exit 1
fi

PROFILE=${NOVBE_KIOSK_PROFILE:-${XDG_DATA_HOME:-$HOME/.local/share}/novbe-kiosk}

# Touch screens: no pinch zoom, no swipe back or forward, no translate bar, no "restore pages?"
# bubble after a power cut, no first-run or default-browser questions.
set -- "$BROWSER" \
    --kiosk \
    --noerrdialogs \
    --disable-translate \
    --disable-features=Translate,TranslateUI,MediaRouter,TouchpadOverscrollHistoryNavigation \
    --no-first-run \
    --no-default-browser-check \
    --disable-infobars \
    --disable-session-crashed-bubble \
    --disable-pinch \
    --overscroll-history-navigation=0 \
    --check-for-update-interval=31536000 \
    --password-store=basic \
    --user-data-dir="$PROFILE" \
    "$URL"

if [ "${NOVBE_KIOSK_DRY_RUN:-}" = 1 ]; then
    printf '%s\n' "$@"
    exit 0
fi

mkdir -p "$PROFILE"
# Keep the screen on and hide the mouse pointer (X11; under Wayland configure the compositor instead).
if [ -n "${DISPLAY:-}" ]; then
    if command -v xset >/dev/null 2>&1; then xset s off -dpms s noblank 2>/dev/null || true; fi
    if command -v unclutter >/dev/null 2>&1; then unclutter -idle 2 -root >/dev/null 2>&1 & fi
fi

while :; do
    # After a power cut Chromium would offer to "restore pages": mark the last exit clean.
    prefs=$PROFILE/Default/Preferences
    if [ -f "$prefs" ]; then
        sed -i 's/"exited_cleanly":false/"exited_cleanly":true/; s/"exit_type":"[A-Za-z]*"/"exit_type":"Normal"/' \
            "$prefs" 2>/dev/null || true
    fi
    status=0
    "$@" || status=$?
    [ "${NOVBE_KIOSK_ONCE:-}" = 1 ] && exit "$status"
    echo "$0: the browser exited ($status); starting it again in 3 s" >&2
    sleep 3
done
