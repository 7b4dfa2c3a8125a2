#pragma once
// An ApiClient that records every call and answers from a function, so the
// deployer's calls can be checked without a server.

#include <functional>
#include <string>
#include <vector>

#include "lamina/sam/api_client.hpp"

namespace lamina::fakes {

class FakeApiClient final : public sam::ApiClient {
public:
    struct Call {
        std::string method, target, body, content_type;
    };
    // Default answer: 200 with "{}".
    std::function<Result<sam::ApiReply>(const Call&)> answer;
    std::vector<Call> calls;

    Result<sam::ApiReply> call(const std::string& method, const std::string& target,
                               const std::string& body, const std::string& content_type) override {
        calls.push_back(Call{method, target, body, content_type});
        if (answer) return answer(calls.back());
        return sam::ApiReply{200, "{}", ""};
    }
    const std::string& region() const override { return region_; }

private:
    std::string region_ = "us-east-1";
};

// An AWS error reply: status, x-amzn-ErrorType and {"message": ...}.
inline sam::ApiReply aws_error(unsigned status, const std::string& type,
                               const std::string& message) {
    return sam::ApiReply{status, R"({"message":")" + message + R"("})", type};
}

}  // namespace lamina::fakes
