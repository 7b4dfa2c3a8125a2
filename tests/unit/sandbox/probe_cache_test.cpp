#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "fakes/temp_dir.hpp"
#include "lamina/sandbox/launcher.hpp"

using namespace lamina;
namespace fs = std::filesystem;

namespace {

// A stand-in for bwrap that counts its runs in `counter` and exits with `code`.
void write_fake_bwrap(const fs::path& script, const fs::path& counter, int code) {
    {
        std::ofstream out(script, std::ios::trunc);
        out << "#!/bin/sh\necho run >> '" << counter.string() << "'\nexit " << code << "\n";
    }
    ::chmod(script.c_str(), 0755);
}

int runs(const fs::path& counter) {
    std::ifstream in(counter);
    int n = 0;
    std::string line;
    while (std::getline(in, line)) ++n;
    return n;
}

}  // namespace

TEST(ProbeCache, AnswerIsReusedUntilBwrapChanges) {
    fakes::TempDir dir;
    const fs::path bwrap = dir.path() / "bwrap", counter = dir.path() / "runs",
                   cache = dir.path() / "cache" / "sandbox-probe.json";
    write_fake_bwrap(bwrap, counter, 0);

    EXPECT_TRUE(sandbox::bubblewrap_works_cached(bwrap, std::nullopt, cache));
    EXPECT_EQ(runs(counter), 1);
    EXPECT_TRUE(fs::exists(cache));
    // the second start reads the answer: bwrap does not run again
    EXPECT_TRUE(sandbox::bubblewrap_works_cached(bwrap, std::nullopt, cache));
    EXPECT_EQ(runs(counter), 1);

    // another bwrap (a new size and mtime) is tried again, and its "no" is kept too
    write_fake_bwrap(bwrap, counter, 17);
    EXPECT_FALSE(sandbox::bubblewrap_works_cached(bwrap, std::nullopt, cache));
    EXPECT_EQ(runs(counter), 2);
    EXPECT_FALSE(sandbox::bubblewrap_works_cached(bwrap, std::nullopt, cache));
    EXPECT_EQ(runs(counter), 2);
}

TEST(ProbeCache, RunAsIsPartOfTheKey) {
    fakes::TempDir dir;
    const fs::path bwrap = dir.path() / "bwrap", counter = dir.path() / "runs",
                   cache = dir.path() / "sandbox-probe.json";
    write_fake_bwrap(bwrap, counter, 0);
    EXPECT_TRUE(sandbox::bubblewrap_works_cached(bwrap, std::nullopt, cache));
    EXPECT_TRUE(sandbox::bubblewrap_works_cached(bwrap, sandbox::kSandboxUser, cache));
    EXPECT_EQ(runs(counter), 2);
    EXPECT_TRUE(sandbox::bubblewrap_works_cached(bwrap, sandbox::kSandboxUser, cache));
    EXPECT_EQ(runs(counter), 2);
}

TEST(ProbeCache, DamagedOrStaleEntriesAreTriedAgain) {
    fakes::TempDir dir;
    const fs::path bwrap = dir.path() / "bwrap", counter = dir.path() / "runs",
                   cache = dir.path() / "sandbox-probe.json";
    write_fake_bwrap(bwrap, counter, 0);
    std::ofstream(cache) << "{ not json";
    EXPECT_TRUE(sandbox::bubblewrap_works_cached(bwrap, std::nullopt, cache));
    EXPECT_EQ(runs(counter), 1);
    auto j = nlohmann::json::parse(std::ifstream(cache));  // rewritten whole
    ASSERT_EQ(j.size(), 1u);

    // an answer older than a day is not trusted
    for (auto& entry : j) entry["at"] = entry["at"].get<std::int64_t>() - 2 * 24 * 3600;
    std::ofstream(cache, std::ios::trunc) << j.dump();
    EXPECT_TRUE(sandbox::bubblewrap_works_cached(bwrap, std::nullopt, cache));
    EXPECT_EQ(runs(counter), 2);
}

TEST(ProbeCache, NoCacheFileMeansAProbeEachTime) {
    fakes::TempDir dir;
    const fs::path bwrap = dir.path() / "bwrap", counter = dir.path() / "runs";
    write_fake_bwrap(bwrap, counter, 0);
    EXPECT_TRUE(sandbox::bubblewrap_works_cached(bwrap, std::nullopt, {}));
    EXPECT_TRUE(sandbox::bubblewrap_works_cached(bwrap, std::nullopt, {}));
    EXPECT_EQ(runs(counter), 2);
    EXPECT_FALSE(sandbox::bubblewrap_works_cached(dir.path() / "missing", std::nullopt, {}));
}
