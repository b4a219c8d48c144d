#!/usr/bin/env bash
# System packages the service and its tests need beyond Python: WeasyPrint's libraries and the Japanese font
# (monthly reports), poppler (the tests render PDF pages to PNG), gpg (PGP-encrypted escalation e-mail), Chromium
# (the browser tests drive the system's Chromium with Playwright).
# Installs what is missing with apt-get when it can (root on Debian/Ubuntu); otherwise says what to install.
set -euo pipefail

missing=()
command -v gpg >/dev/null 2>&1 || missing+=(gnupg)
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
fc-list ':lang=ja' family 2>/dev/null | grep -q "Noto Sans CJK JP" || missing+=(fonts-noto-cjk fontconfig)
ldconfig -p 2>/dev/null | grep -q "libpango-1.0.so" || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
ldconfig -p 2>/dev/null | grep -q "libharfbuzz-subset.so" || missing+=(libharfbuzz-subset0)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v xgettext >/dev/null 2>&1 || missing+=(gettext)  # the i18n test reruns makemessages

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "[setup] installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "[setup] missing system packages: ${missing[*]} (install them with your package manager)" >&2
exit 1
