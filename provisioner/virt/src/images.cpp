#include "vmlab/virt/images.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <pugixml.hpp>
#include <sstream>

namespace vmlab {

namespace {

struct FdClose {
    int fd;
    ~FdClose() { ::close(fd); }
};

std::string raw_volume_xml(const std::string& name, std::uint64_t bytes) {
    pugi::xml_document doc;
    auto vol = doc.append_child("volume");
    vol.append_child("name").text().set(name.c_str());
    auto capacity = vol.append_child("capacity");
    capacity.append_attribute("unit") = "bytes";
    capacity.text().set(static_cast<unsigned long long>(bytes));
    vol.append_child("target").append_child("format").append_attribute("type") = "raw";
    std::ostringstream out;
    doc.save(out, "", pugi::format_raw | pugi::format_no_declaration);
    return out.str();
}

int read_chunk(virStreamPtr, char* data, size_t bytes, void* opaque) {
    const int fd = *static_cast<int*>(opaque);
    return static_cast<int>(::read(fd, data, bytes));
}

struct MemorySource {
    const std::string& bytes;
    std::size_t sent = 0;
};

int read_memory(virStreamPtr, char* data, size_t bytes, void* opaque) {
    auto& source = *static_cast<MemorySource*>(opaque);
    const std::size_t n = std::min(bytes, source.bytes.size() - source.sent);
    std::copy_n(source.bytes.data() + source.sent, n, data);
    source.sent += n;
    return static_cast<int>(n);
}

}  // namespace

void write_volume(virt::Connection& conn, const virt::StoragePool& pool, const std::string& name, const std::string& bytes) {
    const std::string partial = name + ".partial";
    if (virt::StorageVol stale = conn.find_volume(pool, partial)) virt::delete_volume(stale);
    virt::StorageVol volume = conn.create_volume(pool, raw_volume_xml(partial, bytes.size()));
    const std::string what = "cannot write volume " + name;
    try {
        virt::Stream stream{virStreamNew(conn.get(), 0)};
        if (!stream) virt::throw_last_error(what);
        if (virStorageVolUpload(volume.get(), stream.get(), 0, bytes.size(), 0) < 0) {
            const virErrorPtr err = virGetLastError();
            if (!err || err->code != VIR_ERR_NO_SUPPORT) virt::throw_last_error(what);
            spdlog::debug("{}: the driver stores no data; an empty volume stands in", name);
            virt::delete_volume(volume);
            if (virt::StorageVol old = conn.find_volume(pool, name)) virt::delete_volume(old);
            conn.create_volume(pool, raw_volume_xml(name, bytes.size()));
            return;
        }
        MemorySource source{bytes};
        if (virStreamSendAll(stream.get(), read_memory, &source) < 0) {
            try {
                virt::throw_last_error(what);
            } catch (...) {
                virStreamAbort(stream.get());
                throw;
            }
        }
        if (virStreamFinish(stream.get()) < 0) virt::throw_last_error(what);
        static std::mutex renames;  // seats write their seeds in parallel; one rename and refresh at a time
        std::lock_guard lock(renames);
        const std::filesystem::path path = virt::volume_path(volume);
        std::filesystem::rename(path, path.parent_path() / name);
        virt::refresh(pool);
    } catch (...) {
        try {
            if (virt::StorageVol left = conn.find_volume(pool, partial)) virt::delete_volume(left);
        } catch (const std::exception& e) {
            spdlog::warn("could not remove the half-written volume {}: {}", partial, e.what());
        }
        throw;
    }
}

Imported import_image(virt::Connection& conn, const virt::StoragePool& pool, const PlannedBaseImage& image) {
    if (conn.find_volume(pool, image.volume)) return Imported::already_there;
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(image.source_path, ec);
    if (ec)
        throw Error("base image " + image.source_path + " of template " + image.template_name + " cannot be read: " +
                        ec.message(),
                    "build or copy the image there (the tiny guest: scripts/build-tiny-guest), then run up again");
    const int fd = ::open(image.source_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error("cannot open base image " + image.source_path, "check its permissions");
    FdClose closer{fd};

    // Uploaded as NAME.partial and renamed when complete: a killed import never leaves a
    // truncated base image under the real name.
    const std::string partial = image.volume + ".partial";
    if (virt::StorageVol stale = conn.find_volume(pool, partial)) virt::delete_volume(stale);
    virt::StorageVol volume = conn.create_volume(pool, raw_volume_xml(partial, bytes));
    try {
        virt::Stream stream{virStreamNew(conn.get(), 0)};
        const std::string what = "cannot upload " + image.source_path + " into volume " + image.volume;
        if (!stream) virt::throw_last_error(what);
        if (virStorageVolUpload(volume.get(), stream.get(), 0, bytes, 0) < 0) {
            const virErrorPtr err = virGetLastError();
            if (err && err->code == VIR_ERR_NO_SUPPORT) {
                spdlog::debug("{}: the driver stores no data; an empty volume stands in", image.volume);
                virt::delete_volume(volume);
                conn.create_volume(pool, raw_volume_xml(image.volume, bytes));
                return Imported::now;
            }
            virt::throw_last_error(what);
        }
        int source_fd = fd;
        if (virStreamSendAll(stream.get(), read_chunk, &source_fd) < 0) {
            try {
                virt::throw_last_error(what);
            } catch (...) {
                virStreamAbort(stream.get());  // clears libvirt's last error, so only after reading it
                throw;
            }
        }
        if (virStreamFinish(stream.get()) < 0) virt::throw_last_error(what);
        const std::filesystem::path path = virt::volume_path(volume);
        std::filesystem::rename(path, path.parent_path() / image.volume);
        virt::refresh(pool);  // the pool sees the final name and probes the bytes (qcow2 or raw)
    } catch (...) {
        try {
            virt::delete_volume(volume);
        } catch (const std::exception& e) {
            spdlog::warn("could not remove the half-imported volume {}: {}", partial, e.what());
        }
        throw;
    }
    return Imported::now;
}

}  // namespace vmlab
