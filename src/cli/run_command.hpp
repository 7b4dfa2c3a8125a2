#pragma once
// lamina run [serve flags] -- COMMAND [ARGS...]: an ephemeral server on this
// process's threads, COMMAND as a child pointed at it, then everything gone.

#include <map>
#include <string>
#include <vector>

#include "lamina/common/config.hpp"

namespace lamina::cli {

// The child's environment: `parent` plus AWS_ENDPOINT_URL and
// LAMINA_ENDPOINT (always), AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY = test
// (when neither is set) and AWS_REGION/AWS_DEFAULT_REGION = `region` (when
// neither is set). Pure, for tests.
std::map<std::string, std::string> child_environment(std::map<std::string, std::string> parent,
                                                     const std::string& endpoint,
                                                     const std::string& region);

// A wait status as a shell reports it: the exit code, or 128 + the signal.
int shell_status(int wait_status);

// Runs the server and `command` (non-empty); returns the exit code lamina exits with.
int run_command(const Config& config, const std::vector<std::string>& command);

}  // namespace lamina::cli
