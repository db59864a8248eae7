#include "cli/service_notify.h"

#include <systemd/sd-daemon.h>

namespace idsync::cli {

void NotifyReady(const std::string& status) {
  std::string message = "READY=1\nSTATUS=" + status;
  sd_notify(0, message.c_str());
}

void NotifyStopping() {
  sd_notify(0, "STOPPING=1\nSTATUS=finishing in-flight requests");
}

}  // namespace idsync::cli
