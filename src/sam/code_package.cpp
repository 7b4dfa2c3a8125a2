#include "lamina/sam/code_package.hpp"

#include <sys/stat.h>
#include <zip.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

namespace lamina::sam {

namespace fs = std::filesystem;

namespace {

// 1980-01-01T00:00:00, the earliest time a zip can hold: the same bytes for
// the same files, whenever they were last touched.
constexpr time_t kFixedMtime = 315532800;

struct Entry {
    std::string name;  // relative, '/'-separated; directories end in '/'
    std::string data;
    mode_t mode = 0644;
    bool directory = false;
    bool symlink = false;
};

Result<std::string> read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return fail(ErrorCode::InvalidParameterValue, "cannot read " + p.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

Result<std::string> write_zip(std::vector<Entry> entries) {
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.name < b.name; });
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* src = zip_source_buffer_create(nullptr, 0, 0, &error);
    if (!src) return fail(ErrorCode::Service, "cannot create a zip buffer");
    zip_t* za = zip_open_from_source(src, ZIP_TRUNCATE, &error);
    if (!za) {
        zip_source_free(src);
        return fail(ErrorCode::Service, "cannot create a zip");
    }
    zip_source_keep(src);
    auto abandon = [&](const std::string& why) {
        zip_discard(za);
        zip_source_free(src);
        return fail(ErrorCode::Service, "cannot write the zip: " + why);
    };
    for (const auto& e : entries) {
        zip_int64_t index;
        if (e.directory) {
            index = zip_dir_add(za, e.name.c_str(), ZIP_FL_ENC_UTF_8);
        } else {
            zip_source_t* data = zip_source_buffer(za, e.data.data(), e.data.size(), 0);
            if (!data) return abandon(e.name);
            index = zip_file_add(za, e.name.c_str(), data, ZIP_FL_ENC_UTF_8);
            if (index < 0) zip_source_free(data);
        }
        if (index < 0) return abandon(e.name + ": " + zip_strerror(za));
        zip_file_set_mtime(za, static_cast<zip_uint64_t>(index), kFixedMtime, 0);
        zip_uint32_t type = e.directory ? S_IFDIR : e.symlink ? S_IFLNK : S_IFREG;
        zip_file_set_external_attributes(za, static_cast<zip_uint64_t>(index), 0, ZIP_OPSYS_UNIX,
                                         (type | (e.mode & 07777)) << 16);
        if (!e.directory)
            zip_set_file_compression(za, static_cast<zip_uint64_t>(index), ZIP_CM_DEFLATE, 6);
    }
    if (zip_close(za) != 0) {
        std::string why = zip_strerror(za);
        zip_discard(za);
        zip_source_free(src);
        return fail(ErrorCode::Service, "cannot write the zip: " + why);
    }
    std::string out;
    if (zip_source_open(src) == 0) {
        char buf[65536];
        zip_int64_t n;
        while ((n = zip_source_read(src, buf, sizeof buf)) > 0)
            out.append(buf, static_cast<std::size_t>(n));
        zip_source_close(src);
    }
    zip_source_free(src);
    if (out.empty()) return fail(ErrorCode::Service, "cannot read back the zip");
    return out;
}

}  // namespace

Result<std::string> zip_folder(const fs::path& folder) {
    std::vector<Entry> entries;
    std::error_code ec;
    fs::recursive_directory_iterator it(folder, fs::directory_options::none, ec), end;
    if (ec)
        return fail(ErrorCode::InvalidParameterValue,
                    "cannot read the folder " + folder.string() + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
        if (ec)
            return fail(ErrorCode::InvalidParameterValue,
                        "cannot read " + folder.string() + ": " + ec.message());
        const fs::path& p = it->path();
        std::string rel = fs::relative(p, folder, ec).generic_string();
        if (ec || rel.empty()) continue;
        auto status = it->symlink_status(ec);
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) continue;
        Entry e;
        e.mode = st.st_mode & 07777;
        if (fs::is_symlink(status)) {
            e.name = rel;
            e.symlink = true;
            e.data = fs::read_symlink(p, ec).string();
            it.disable_recursion_pending();
        } else if (fs::is_directory(status)) {
            e.name = rel + "/";
            e.directory = true;
        } else if (fs::is_regular_file(status)) {
            e.name = rel;
            auto data = read_file(p);
            if (!data) return std::unexpected(data.error());
            e.data = std::move(*data);
        } else {
            continue;  // sockets, fifos: nothing a function can use
        }
        entries.push_back(std::move(e));
    }
    if (entries.empty())
        return fail(ErrorCode::InvalidParameterValue,
                    "the folder " + folder.string() + " is empty");
    return write_zip(std::move(entries));
}

Result<std::string> zip_single_file(const std::string& name, const std::string& content) {
    return write_zip({Entry{name, content, 0644, false, false}});
}

Result<std::string> package_code(const fs::path& path) {
    std::error_code ec;
    auto status = fs::status(path, ec);
    if (ec || !fs::exists(status))
        return fail(ErrorCode::InvalidParameterValue, path.string() + " does not exist");
    if (fs::is_directory(status)) return zip_folder(path);
    if (fs::is_regular_file(status)) return read_file(path);
    return fail(ErrorCode::InvalidParameterValue,
                path.string() + " is neither a folder nor a zip file");
}

}  // namespace lamina::sam
