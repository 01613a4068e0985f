#!/bin/sh
# Start a Növbə hall display board: Chromium in kiosk mode, sound allowed without a tap.
#
#   display/launch-board.sh 'http://10.0.0.2:5000/display/?board=hall-1&token=…'   first time
#   display/launch-board.sh 'http://10.0.0.2:5000/display/?board=hall-1'            afterwards
#
# The board keeps its display token in the browser profile (localStorage), so the token is
# needed in the address only once. Chromium is restarted if it exits or crashes.
#
# Environment:
#   NOVBE_BROWSER        the browser to run (default: chromium, chromium-browser or google-chrome)
#   NOVBE_BOARD_PROFILE  its profile folder (default: ~/.local/share/novbe-board/<board>)
#   NOVBE_BOARD_ONCE=1   run the browser once instead of restarting it
#   NOVBE_BOARD_DRY_RUN=1  print the command instead of running it
# See docs/display.md.
set -eu

usage() {
    echo "usage: $0 URL   (e.g. 'http://SERVER:5000/display/?board=hall-1&token=TOKEN')" >&2
    exit 2
}

[ $# -eq 1 ] || usage
URL=$1
case $URL in
    http://*/display/*|https://*/display/*) ;;
    *) echo "$0: $URL is not a board address (http://SERVER:PORT/display/?board=NAME)" >&2; exit 2 ;;
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

BOARD=$(printf '%s\n' "$URL" | sed -n 's/.*[?&]board=\([a-z0-9-]*\).*/\1/p')
PROFILE=${NOVBE_BOARD_PROFILE:-${XDG_DATA_HOME:-$HOME/.local/share}/novbe-board/${BOARD:-default}}

set -- "$BROWSER" \
    --kiosk \
    --autoplay-policy=no-user-gesture-required \
    --noerrdialogs \
    --disable-translate \
    --disable-features=Translate,TranslateUI,MediaRouter \
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

if [ "${NOVBE_BOARD_DRY_RUN:-}" = 1 ]; then
    printf '%s\n' "$@"
    exit 0
fi

mkdir -p "$PROFILE"
# Keep the screen on (X11; under Wayland configure the compositor instead).
if [ -n "${DISPLAY:-}" ] && command -v xset >/dev/null 2>&1; then
    xset s off -dpms s noblank 2>/dev/null || true
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
    [ "${NOVBE_BOARD_ONCE:-}" = 1 ] && exit "$status"
    echo "$0: the browser exited ($status); starting it again in 3 s" >&2
    sleep 3
done
