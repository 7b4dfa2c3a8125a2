#include "lamina/control/pagination.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace lamina;
using namespace lamina::control;

namespace {

auto identity = [](const std::string& s) { return s; };

}  // namespace

TEST(Pagination, PagesResumeAfterTheMarkerUntilNoneRemains) {
    std::vector<std::string> items{"a", "b", "c", "d", "e"};
    Page page;
    page.max_items = 2;
    std::vector<std::string> seen;
    for (int calls = 0; calls < 10; ++calls) {
        auto r = paginate(items, page, "letters", identity);
        ASSERT_TRUE(r.has_value());
        seen.insert(seen.end(), r->first.begin(), r->first.end());
        if (!r->second) break;
        page.marker = r->second;
    }
    EXPECT_EQ(seen, items);
}

TEST(Pagination, AMarkerFromAnotherListOrGarbageIsInvalid) {
    auto marker = make_marker("functions", "f1");
    auto pos = read_marker("functions", marker);
    ASSERT_TRUE(pos.has_value());
    EXPECT_EQ(*pos, "f1");
    for (const std::string& bad :
         {make_marker("layers", "f1"), std::string("%%%"), std::string()}) {
        auto r = read_marker("functions", bad);
        ASSERT_FALSE(r.has_value()) << bad;
        EXPECT_EQ(r.error().code, ErrorCode::InvalidParameterValue);
        EXPECT_EQ(r.error().message, "Invalid Marker: " + bad);
    }
}

TEST(Pagination, AtLeastOneItemPerPage) {
    Page page;
    page.max_items = 0;
    auto r = paginate(std::vector<std::string>{"a", "b"}, page, "t", identity);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->first.size(), 1u);
    EXPECT_TRUE(r->second.has_value());
}
