#pragma once
// The API front door as `lamina serve` builds it (src/cli/app.cpp), over a
// fresh temp data dir and without a listener or a data plane (no invoker,
// no event queue): control plane, stores, IAM, metrics and api::Service.
// Time and ids are the unit tests' fakes, so a run is reproducible.

#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <boost/asio/thread_pool.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "fakes/fake_clock.hpp"
#include "lamina/api/service.hpp"
#include "lamina/common/config.hpp"
#include "lamina/common/startup_findings.hpp"
#include "lamina/control/iam.hpp"
#include "lamina/control/layers.hpp"
#include "lamina/control/registry.hpp"
#include "lamina/control/validation.hpp"
#include "lamina/metrics/metrics.hpp"
#include "lamina/store/blob_store.hpp"
#include "lamina/store/document_store.hpp"
#include "lamina/store/layer_cache.hpp"

namespace lamina::fuzz {

// Fuzzing logs nothing: lamina's diagnostics would drown libFuzzer's output.
inline void silence_logs() { spdlog::set_level(spdlog::level::off); }

// A fresh directory under /dev/shm (tmpfs: no disk I/O) or the temp dir.
inline std::filesystem::path make_temp_dir(const char* prefix) {
    std::filesystem::path base = std::filesystem::is_directory("/dev/shm")
                                     ? std::filesystem::path("/dev/shm")
                                     : std::filesystem::temp_directory_path();
    std::string tmpl = (base / (std::string(prefix) + "-XXXXXX")).string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    return tmpl;
}

template <class T>
T must(Result<T> r, const char* what) {
    if (!r) {
        std::fprintf(stderr, "fuzz stack: %s: %s\n", what, r.error().message.c_str());
        std::abort();
    }
    return std::move(*r);
}

inline void must(Status st, const char* what) {
    if (!st) {
        std::fprintf(stderr, "fuzz stack: %s: %s\n", what, st.error().message.c_str());
        std::abort();
    }
}

class Stack {
public:
    explicit Stack(boost::asio::thread_pool& workers) : dir_(make_temp_dir("lamina-fuzz")) {
        config_.data_dir = dir_;
        docs_ = must(store::DocumentStore::open(dir_ / "registry.db", store::Durability::Crash),
                     "open registry.db");
        blobs_ = std::make_unique<store::BlobStore>(dir_ / "blobs");
        must(blobs_->init(), "blob store");
        layers_ = std::make_unique<control::LayerRegistry>(*docs_, clock_, ids_);
        registry_ = std::make_unique<control::Registry>(*docs_, clock_, ids_, layers_.get());
        roles_ = std::make_unique<control::IamRoles>(*docs_, clock_, ids_);
        layer_cache_ =
            std::make_unique<store::LayerCache>(dir_, *blobs_, control::kMaxUnzippedCode);
        must(layers_->load(), "layers");
        must(registry_->load(), "registry");
        must(layer_cache_->init(), "layer cache");
        must(roles_->load(), "roles");
        metrics_ = std::make_unique<metrics::MetricsStore>(clock_);
        service_ = std::make_unique<api::Service>(config_, findings_, *registry_, *layers_,
                                                  *layer_cache_, *roles_, *blobs_, ids_, workers,
                                                  nullptr, nullptr, metrics_.get());
    }
    ~Stack() {
        service_.reset();
        metrics_.reset();
        layer_cache_.reset();
        roles_.reset();
        registry_.reset();
        layers_.reset();
        blobs_.reset();
        docs_.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    Stack(const Stack&) = delete;
    Stack& operator=(const Stack&) = delete;

    api::Service& service() { return *service_; }
    fakes::FakeClock& clock() { return clock_; }
    control::Registry& registry() { return *registry_; }
    control::LayerRegistry& layers() { return *layers_; }
    store::LayerCache& layer_cache() { return *layer_cache_; }
    store::BlobStore& blobs() { return *blobs_; }
    const std::filesystem::path& dir() const { return dir_; }

private:
    std::filesystem::path dir_;
    Config config_;
    StartupFindings findings_;
    fakes::FakeClock clock_;
    fakes::CountingIds ids_;
    std::unique_ptr<store::DocumentStore> docs_;
    std::unique_ptr<store::BlobStore> blobs_;
    std::unique_ptr<control::LayerRegistry> layers_;
    std::unique_ptr<control::Registry> registry_;
    std::unique_ptr<control::IamRoles> roles_;
    std::unique_ptr<store::LayerCache> layer_cache_;
    std::unique_ptr<metrics::MetricsStore> metrics_;
    std::unique_ptr<api::Service> service_;
};

}  // namespace lamina::fuzz
