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
        std::string service;     // what it is signed for: lambda, s3, sqs
        std::string amz_target;  // X-Amz-Target, for SQS's JSON protocol
    };
    // Default answer: 200 with "{}".
    std::function<Result<sam::ApiReply>(const Call&)> answer;
    std::vector<Call> calls;

    Result<sam::ApiReply> send(const sam::ApiCall& c) override {
        std::string amz_target;
        for (const auto& [k, v] : c.headers)
            if (k == "X-Amz-Target") amz_target = v;
        calls.push_back(Call{c.method, c.target, c.body, c.content_type, c.service, amz_target});
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
