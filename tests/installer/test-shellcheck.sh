#!/bin/bash
# The shell scripts of the installer and its tests are shellcheck-clean (bash, and sh for the maintainer
# scripts, which run under dash).
# shellcheck source=tests/installer/lib.sh
. "$(dirname "$0")/lib.sh"

need_tool shellcheck
cd "$src" || exit 1
check "installer scripts (bash)" shellcheck -x installer/install.sh installer/image-prep.sh installer/demo.sh installer/deps.sh
check "maintainer scripts (sh)" shellcheck -s sh installer/debian/agent/postinst installer/debian/agent/prerm \
        installer/debian/agent/postrm installer/debian/collector/postinst installer/debian/collector/prerm \
        installer/debian/collector/postrm
check "installer tests" shellcheck -x tests/installer/lib.sh tests/installer/*.sh
finish
