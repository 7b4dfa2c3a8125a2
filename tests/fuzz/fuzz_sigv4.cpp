// SigV4 verification (api/sigv4.cpp: the Authorization header or the
// presigned query, the credential scope, X-Amz-Date, the canonical request)
// and the request context taken from the same fields (api/request_context.cpp).
//
// Input: one request (fuzz_request.hpp). The credential store holds
// AKIDEXAMPLE with the secret of AWS's SigV4 test suite; "now" is
// 2026-01-01T00:00:00Z, the date of the signed seeds. Checked beyond the
// sanitizers: a verified request names a stored key, and errors are the
// authentication ones.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz_request.hpp"
#include "fuzz_stack.hpp"
#include "lamina/api/request_context.hpp"
#include "lamina/api/sigv4.hpp"

namespace {

using namespace lamina;

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "fuzz_sigv4: %s\n", what.c_str());
    std::abort();
}

constexpr std::int64_t kNowMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

bool auth_error(ErrorCode c) {
    return c == ErrorCode::IncompleteSignature || c == ErrorCode::MissingAuthenticationToken ||
           c == ErrorCode::UnrecognizedClient || c == ErrorCode::InvalidSignature;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::silence_logs();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const api::CredentialStore store = {
        {"AKIDEXAMPLE", {"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "123456789012"}},
        {"AKIDOTHER", {"secret", "210987654321"}},
    };
    static const Config config;
    auto req = fuzz::parse_request(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!req) return -1;
    auto ctx = api::make_context(*req, config, "request-id");
    if (ctx.scope.account.empty() || ctx.scope.region.empty())
        finding("a request context without a scope");
    auto key = api::verify_sigv4(*req, store, kNowMs);
    if (key && !store.contains(*key)) finding("verified with a key that is not stored: " + *key);
    if (!key && !auth_error(key.error().code))
        finding("an error that is not an authentication one: " + key.error().message);
    (void)api::canonical_request(*req,
                                 req->headers.get("X-Fuzz-Signed-Headers", "host;x-amz-date"));
    return 0;
}
