#pragma once
// Named module loggers ("http", "api", ...). cli/ creates them with the
// configured sink and level; code running without cli/ (tests, embedding)
// falls back to spdlog's default logger instead of a null pointer.

#include <spdlog/spdlog.h>

#include <memory>

namespace lamina {

inline std::shared_ptr<spdlog::logger> logger(const char* name) {
    auto l = spdlog::get(name);
    return l ? l : spdlog::default_logger();
}

}  // namespace lamina
