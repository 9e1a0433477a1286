#!/usr/bin/env bash
# System tools the tests use: Debian's chromium renders the HTML report in a headless browser.
# Installs it with apt-get when it is missing and apt-get can run (root); otherwise says why the
# browser test will skip.
set -euo pipefail
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  echo "  chromium already installed"
  exit 0
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "  apt-get install chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  echo "  installed $(chromium --version)"
else
  echo "chromium missing and apt-get unavailable (not root?): the report's browser test will skip" >&2
fi
