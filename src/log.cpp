// Logging with spdlog; the level comes from NKI_SIM_LOG (trace, debug, info, warn, error, off).
// At debug or trace every executed instruction is logged by an observer, so a kernel's
// instruction stream can be read without a debugger.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <string>

#include "log.hpp"
#include "nkisim/interpreter.hpp"

namespace nkisim {

namespace {
std::shared_ptr<spdlog::logger> make_logger() {
  auto lg = spdlog::stderr_color_mt("nkisim");
  lg->set_pattern("[nkisim %l] %v");
  const char* env = std::getenv("NKI_SIM_LOG");
  lg->set_level(env ? spdlog::level::from_str(env) : spdlog::level::warn);
  return lg;
}

class InstructionLog : public Observer {
 public:
  void on_instruction(const Event& e) override {
    logger().debug("core {} #{} {} on {}{}{}", e.core.core_id(), e.seq, e.decl.name,
                   engine_name(e.engine), e.op.name.empty() ? "" : " name=", e.op.name);
  }
};
}  // namespace

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> lg = make_logger();
  return *lg;
}

std::shared_ptr<Observer> instruction_log_if_enabled() {
  if (!logger().should_log(spdlog::level::debug)) return nullptr;
  return std::make_shared<InstructionLog>();
}

}  // namespace nkisim
