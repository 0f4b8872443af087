// nkisim internal: the spdlog logger (level from NKI_SIM_LOG, default warn).
#pragma once

#include <memory>

#include "nkisim/observer.hpp"

namespace spdlog {
class logger;
}

namespace nkisim {

spdlog::logger& logger();
// An observer that logs every instruction, when NKI_SIM_LOG is debug or trace; else null.
std::shared_ptr<Observer> instruction_log_if_enabled();

}  // namespace nkisim
