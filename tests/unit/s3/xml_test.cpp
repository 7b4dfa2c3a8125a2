#include "lamina/s3/xml.hpp"

#include <gtest/gtest.h>

using namespace lamina::s3;

TEST(Xml, ParsesCompleteMultipartUpload) {
    auto doc = parse_xml(R"(<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Part><ETag>&quot;a54357aff0632cce46d942af68356b38&quot;</ETag><PartNumber>1</PartNumber></Part>
  <Part><ChecksumCRC32>x</ChecksumCRC32><ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag><PartNumber>2</PartNumber></Part>
</CompleteMultipartUpload>)");
    ASSERT_TRUE(doc.has_value());
    EXPECT_EQ(doc->name, "CompleteMultipartUpload");
    auto parts = doc->children_named("Part");
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0]->child("ETag")->text, "\"a54357aff0632cce46d942af68356b38\"");
    EXPECT_EQ(parts[1]->child("PartNumber")->text, "2");
    EXPECT_EQ(parts[1]->child("Nope"), nullptr);
}

TEST(Xml, EntitiesCdataCommentsAndPrefixes) {
    auto doc = parse_xml(
        "<!-- c --><s3:Delete><Object><Key>a&amp;b&lt;&#233;&#x41;<![CDATA[<x>]]></Key></Object>"
        "<Quiet>true</Quiet><Empty/></s3:Delete>");
    ASSERT_TRUE(doc.has_value());
    EXPECT_EQ(doc->name, "Delete");
    EXPECT_EQ(doc->child("Object")->child("Key")->text,
              "a&b<\xC3\xA9"
              "A<x>");
    EXPECT_EQ(doc->child("Quiet")->text, "true");
    EXPECT_NE(doc->child("Empty"), nullptr);
}

TEST(Xml, RefusesWhatIsNotWellFormed) {
    EXPECT_FALSE(parse_xml("").has_value());
    EXPECT_FALSE(parse_xml("not xml").has_value());
    EXPECT_FALSE(parse_xml("<a><b></a></b>").has_value());
    EXPECT_FALSE(parse_xml("<a>").has_value());
    EXPECT_FALSE(parse_xml("<a></a><b></b>").has_value());
    EXPECT_FALSE(parse_xml("<a>&bogus;</a>").has_value());
    EXPECT_FALSE(parse_xml("<a x=1></a>").has_value());
    std::string deep;
    for (int i = 0; i < 100; ++i) deep += "<a>";
    for (int i = 0; i < 100; ++i) deep += "</a>";
    EXPECT_FALSE(parse_xml(deep).has_value());
}
