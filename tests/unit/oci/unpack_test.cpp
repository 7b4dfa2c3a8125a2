#include "lamina/oci/unpack.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "fakes/tar_builder.hpp"
#include "fakes/temp_dir.hpp"
#include "lamina/common/encoding.hpp"

namespace fs = std::filesystem;
namespace oci = lamina::oci;
using lamina::ErrorCode;
using lamina::Result;
using namespace lamina::fakes;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {(std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()};
}

std::string digest_of(const std::string& bytes) {
    return "sha256:" + lamina::to_hex(lamina::sha256(bytes));
}

// A fake registry: blobs in a folder, one image.
class FakeSource : public oci::ImageSource {
public:
    explicit FakeSource(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }
    oci::Descriptor add_blob(const std::string& bytes, const std::string& media_type) {
        std::string d = digest_of(bytes);
        std::ofstream(dir_ / d.substr(7), std::ios::binary) << bytes;
        return {media_type, d, static_cast<std::int64_t>(bytes.size())};
    }
    std::expected<oci::ResolvedImage, oci::ResolveFailure> resolve(
        const std::string&, const std::string&, const std::string&,
        const std::string&) const override {
        return image;
    }
    std::optional<fs::path> blob_path(const std::string& digest) const override {
        fs::path p = dir_ / digest.substr(7);
        if (!fs::exists(p)) return std::nullopt;
        return p;
    }
    oci::ResolvedImage image;

private:
    fs::path dir_;
};

const char* kGz = "application/vnd.oci.image.layer.v1.tar+gzip";
const char* kTar = "application/vnd.oci.image.layer.v1.tar";

class UnpackTest : public ::testing::Test {
protected:
    TempDir tmp;
    fs::path root() { return tmp.path() / "root"; }
    void SetUp() override { fs::create_directories(root()); }
    lamina::Status apply(const std::string& tar) {
        std::size_t pos = 0;
        oci::Reader r = [&](char* b, std::size_t n) -> Result<std::size_t> {
            std::size_t k = std::min(n, tar.size() - pos);
            std::memcpy(b, tar.data() + pos, k);
            pos += k;
            return k;
        };
        return oci::apply_tar(root(), r, state);
    }
    oci::UnpackState state;
};

}  // namespace

TEST_F(UnpackTest, FilesDirsSymlinksAndHardLinks) {
    ASSERT_TRUE(
        apply(make_tar({tar_dir("bin/"), tar_file("bin/tool", "#!/bin/sh\n", 04755),
                        tar_symlink("bin/alias", "tool"), tar_symlink("bin/abs", "/usr/bin/env"),
                        tar_hardlink("bin/again", "bin/tool"), tar_file("./etc/x/deep", "d")})));
    EXPECT_EQ(slurp(root() / "bin/tool"), "#!/bin/sh\n");
    struct stat st {};
    ASSERT_EQ(::stat((root() / "bin/tool").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u) << "setuid dropped";
    EXPECT_EQ(fs::read_symlink(root() / "bin/alias"), "tool");
    EXPECT_EQ(fs::read_symlink(root() / "bin/abs"), "/usr/bin/env");
    EXPECT_EQ(slurp(root() / "bin/again"), "#!/bin/sh\n");
    EXPECT_EQ(slurp(root() / "etc/x/deep"), "d");
    EXPECT_EQ(state.unpacked, 11);
}

TEST_F(UnpackTest, DevicesAndFifosAreDropped) {
    ASSERT_TRUE(apply(
        make_tar({{'3', "dev/null", "", 0666}, {'6', "fifo", "", 0644}, tar_file("ok", "1")})));
    EXPECT_FALSE(fs::exists(root() / "dev/null"));
    EXPECT_FALSE(fs::exists(root() / "fifo"));
    EXPECT_TRUE(fs::exists(root() / "ok"));
}

TEST_F(UnpackTest, WhiteoutRemovesLowerEntry) {
    ASSERT_TRUE(apply(make_tar({tar_file("a/gone", "x"), tar_file("a/kept", "y"), tar_dir("d/"),
                                tar_file("d/inner", "z")})));
    ASSERT_TRUE(apply(make_tar({tar_file("a/.wh.gone", ""), tar_file(".wh.d", "")})));
    EXPECT_FALSE(fs::exists(root() / "a/gone"));
    EXPECT_FALSE(fs::exists(root() / "a/.wh.gone"));
    EXPECT_TRUE(fs::exists(root() / "a/kept"));
    EXPECT_FALSE(fs::exists(root() / "d"));
}

TEST_F(UnpackTest, OpaqueDirectoryHidesLowerContentButKeepsItsOwn) {
    ASSERT_TRUE(apply(make_tar({tar_file("o/old", "x"), tar_file("o/sub/older", "x")})));
    ASSERT_TRUE(apply(make_tar({tar_dir("o/"), tar_file("o/sub/new", "n"),
                                tar_file("o/.wh..wh..opq", ""), tar_file("o/after", "a")})));
    EXPECT_FALSE(fs::exists(root() / "o/old"));
    EXPECT_FALSE(fs::exists(root() / "o/sub/older"));
    EXPECT_TRUE(fs::exists(root() / "o/sub/new"));
    EXPECT_TRUE(fs::exists(root() / "o/after"));
    EXPECT_FALSE(fs::exists(root() / "o/.wh..wh..opq"));
}

TEST_F(UnpackTest, LaterLayerReplacesFileWithDirectoryAndBack) {
    ASSERT_TRUE(apply(make_tar({tar_file("p", "file"), tar_dir("q/"), tar_file("q/x", "1")})));
    ASSERT_TRUE(apply(make_tar({tar_dir("p/"), tar_file("q", "now a file")})));
    EXPECT_TRUE(fs::is_directory(root() / "p"));
    EXPECT_EQ(slurp(root() / "q"), "now a file");
}

TEST_F(UnpackTest, EscapesAreRefused) {
    for (const auto& bad : std::vector<std::vector<TarEntry>>{
             {tar_file("../evil", "x")},
             {tar_file("a/../../evil", "x")},
             {tar_file("/abs", "x")},
             {tar_symlink("up", "../../etc")},
             {tar_symlink("d/up", "../../x")},
             {tar_symlink("link", "/"), tar_file("link/etc/evil", "x")},
             {tar_symlink("rel", "."), tar_file("rel/x", "x")},
             {tar_file("f", "x"), tar_file("f/x", "x")},
             {tar_hardlink("h", "../outside")},
             {tar_hardlink("h", "missing")},
             {tar_symlink("s", "target"), tar_hardlink("h", "s")},
         }) {
        fs::remove_all(root());
        fs::create_directories(root());
        auto st = apply(make_tar(bad));
        ASSERT_FALSE(st) << bad.back().name;
        EXPECT_EQ(st.error().code, ErrorCode::InvalidParameterValue) << st.error().message;
        EXPECT_FALSE(fs::exists(tmp.path() / "evil"));
        EXPECT_FALSE(fs::exists(tmp.path() / "outside"));
    }
}

TEST_F(UnpackTest, CorruptHeaderAndTruncatedData) {
    std::string t = make_tar({tar_file("a", "hello")});
    t[10] ^= 1;  // checksum no longer matches
    auto st = apply(t);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("checksum"), std::string::npos);
    std::string cut = make_tar({tar_file("a", std::string(2000, 'x'))}, false).substr(0, 1000);
    EXPECT_FALSE(apply(cut));
}

TEST_F(UnpackTest, SizeLimitCountsEveryLayer) {
    state.limit = 10;
    ASSERT_TRUE(apply(make_tar({tar_file("a", "123456")})));
    auto st = apply(make_tar({tar_file("b", "123456")}));
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("10 GB"), std::string::npos);
}

TEST_F(UnpackTest, LongNamesThroughPrefixAndPax) {
    std::string longname = std::string(80, 'a') + "/" + std::string(80, 'b') + "/file";
    ASSERT_TRUE(apply(make_tar({tar_file(longname, "1")})));
    EXPECT_TRUE(fs::exists(root() / longname));
    std::string pax_name = std::string(120, 'c');
    std::string rec = "path=" + pax_name + "\n";
    std::string len = std::to_string(rec.size() + 4);
    rec = len + " " + rec;
    ASSERT_EQ(rec.size(), std::stoul(len));
    ASSERT_TRUE(apply(make_tar({{'x', "pax", rec, 0644}, tar_file("short", "2")})));
    EXPECT_EQ(slurp(root() / pax_name), "2");
    EXPECT_FALSE(fs::exists(root() / "short"));
}

TEST_F(UnpackTest, FinishRootMakesMountPointsAndSetsModes) {
    ASSERT_TRUE(apply(
        make_tar({tar_dir("ro/", 0555), tar_file("ro/f", "x"), tar_symlink("etc", "/somewhere")})));
    ASSERT_TRUE(oci::finish_root(root(), state));
    EXPECT_TRUE(fs::is_directory(fs::symlink_status(root() / "etc")));
    for (const char* p : {"proc", "dev", "tmp"}) EXPECT_TRUE(fs::is_directory(root() / p));
    for (const char* p : {"etc/hosts", "etc/resolv.conf", "etc/passwd", "etc/group"})
        EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(root() / p))) << p;
    struct stat st {};
    ASSERT_EQ(::stat((root() / "ro").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0555u);
    ASSERT_EQ(::stat((root() / "tmp").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 01777u);
}

TEST(ImageConfig, ParsesRunFields) {
    auto c = oci::parse_image_config(
        R"({"architecture":"arm64","os":"linux","config":{"Env":["A=1"],"Entrypoint":["/e"],"Cmd":["h.x"],"WorkingDir":"/w"}})");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->architecture, "arm64");
    EXPECT_EQ(oci::lambda_architecture(c->architecture), "arm64");
    EXPECT_EQ(oci::lambda_architecture("amd64"), "x86_64");
    EXPECT_EQ(c->env, std::vector<std::string>{"A=1"});
    EXPECT_EQ(c->entrypoint, std::vector<std::string>{"/e"});
    EXPECT_EQ(c->cmd, std::vector<std::string>{"h.x"});
    EXPECT_EQ(c->working_dir, "/w");
    EXPECT_FALSE(oci::parse_image_config("[1]"));
}

class ImageRootsTest : public ::testing::Test {
protected:
    TempDir tmp;
    FakeSource source{tmp.path() / "blobs"};
    oci::ImageRoots roots{tmp.path() / "images"};
    void image(std::vector<oci::Descriptor> layers) {
        source.image.manifest_digest = digest_of("manifest" + std::to_string(layers.size()));
        source.image.config_json = R"({"architecture":"amd64","config":{"Cmd":["x"]}})";
        source.image.config =
            source.add_blob(source.image.config_json, "application/vnd.oci.image.config.v1+json");
        source.image.layers = std::move(layers);
    }
};

TEST_F(ImageRootsTest, UnpacksOnceGzipAndPlainLayersInOrder) {
    image({source.add_blob(gzip(make_tar({tar_file("a", "1"), tar_file("b", "1")})), kGz),
           source.add_blob(make_tar({tar_file(".wh.a", ""), tar_file("b", "2")}), kTar)});
    auto r = roots.ensure(source.image, source);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(fs::exists(r->rootfs / "a"));
    EXPECT_EQ(slurp(r->rootfs / "b"), "2");
    EXPECT_EQ(r->config.cmd, std::vector<std::string>{"x"});
    auto again = roots.find(source.image.manifest_digest);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->rootfs, r->rootfs);
}

TEST_F(ImageRootsTest, BadLayersLeaveNothing) {
    std::string good = gzip(make_tar({tar_file("a", "1")}));
    std::vector<std::pair<std::string, oci::Descriptor>> cases;
    {
        auto d = source.add_blob(good, kGz);
        d.size += 1;  // lying size
        cases.emplace_back("bytes", d);
    }
    {
        auto d = source.add_blob(good, kGz);
        d.size -= 1;
        cases.emplace_back("bytes", d);
    }
    {
        std::string corrupt = good;
        corrupt[corrupt.size() / 2] ^= 0x55;
        cases.emplace_back("", source.add_blob(corrupt, kGz));
    }
    {
        auto d = source.add_blob(good, kGz);
        d.digest = digest_of("other");  // not stored: not in the registry
        cases.emplace_back("not in lamina's registry", d);
    }
    cases.emplace_back("zstd",
                       source.add_blob(good, "application/vnd.oci.image.layer.v1.tar+zstd"));
    cases.emplace_back("climbs out", source.add_blob(gzip(make_tar({tar_file("../x", "1")})), kGz));
    for (const auto& [want, layer] : cases) {
        image({layer});
        auto r = roots.ensure(source.image, source);
        ASSERT_FALSE(r) << want;
        EXPECT_NE(r.error().message.find(want), std::string::npos) << r.error().message;
        std::error_code ec;
        EXPECT_TRUE(fs::is_empty(tmp.path() / "images", ec)) << want;
    }
}

TEST_F(ImageRootsTest, DigestMismatchIsCaught) {
    std::string bytes = make_tar({tar_file("a", "1")});
    auto d = source.add_blob(bytes, kTar);
    // same size, other bytes under the same name
    std::string other = make_tar({tar_file("a", "2")});
    std::ofstream(tmp.path() / "blobs" / d.digest.substr(7), std::ios::binary) << other;
    image({d});
    auto r = roots.ensure(source.image, source);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("do not match its digest"), std::string::npos)
        << r.error().message;
}
