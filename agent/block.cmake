# Block devices (issue 5): removable patterns, BLKROSET, mount guard, write audit.
target_sources(mnguard-agent PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/removable-patterns.c)
