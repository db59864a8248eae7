// Readiness and stopping notices to systemd (Type=notify units, sd_notify(3)). A no-op when
// the process was not started by systemd ($NOTIFY_SOCKET unset), as in a terminal or a test.
#pragma once

#include <string>

namespace idsync::cli {

// READY=1 with a STATUS line, once every listener accepts connections.
void NotifyReady(const std::string& status);
// STOPPING=1, when a stop signal arrived and in-flight requests are being finished.
void NotifyStopping();

}  // namespace idsync::cli
