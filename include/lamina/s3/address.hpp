#pragma once
// Where an S3 request points: bucket and key from the Host header
// (virtual-host style, "bucket.localhost:4566") or from the path (path
// style, "/bucket/key"), as the aws CLI and boto3 send them.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lamina::s3 {

struct S3Address {
    std::string bucket;  // empty: the service (ListBuckets)
    std::string key;     // decoded; empty: the bucket itself
    bool virtual_host = false;
};

// The bucket named by a Host header whose name ends in ".<base>" for one of
// `bases` ("localhost", lamina's --host when it is a name), or in
// ".s3.amazonaws.com" / ".s3.<region>.amazonaws.com"; nullopt otherwise.
std::optional<std::string> virtual_host_bucket(std::string_view host,
                                               const std::vector<std::string>& bases);

// nullopt when the path has a bad %-escape.
std::optional<S3Address> parse_address(std::string_view host, std::string_view raw_path,
                                       const std::vector<std::string>& bases);

// S3's bucket naming rules (3-63 characters of a-z 0-9 . -, starting and
// ending with a letter or digit, no "..", not an IPv4 address, no reserved
// prefix or suffix).
bool valid_bucket_name(std::string_view name);

}  // namespace lamina::s3
