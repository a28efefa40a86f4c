#include "vmlab/guest/seed.hpp"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "vmlab/util/error.hpp"
#include "vmlab/util/hash.hpp"
#include "vmlab/util/process.hpp"

namespace vmlab {

namespace fs = std::filesystem;

namespace {

constexpr auto xorriso_timeout = std::chrono::seconds(60);

// A directory of its own (mode 0700) under the system's temporary directory, removed with its
// contents when it goes out of scope.
class TemporaryDirectory {
public:
    TemporaryDirectory() {
        std::string pattern = (fs::temp_directory_path() / "vmlab-seed-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr)
            throw Error("cannot create a temporary directory for a cloud-init seed in " +
                            fs::temp_directory_path().string(),
                        "check that TMPDIR is writable");
        m_path = pattern;
    }
    ~TemporaryDirectory() {
        std::error_code ignored;
        fs::remove_all(m_path, ignored);
    }
    TemporaryDirectory(const TemporaryDirectory&) = delete;
    TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;

    const fs::path& path() const { return m_path; }

private:
    fs::path m_path;
};

void write_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out.flush()) throw Error("cannot write " + path.string());
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) throw Error("cannot read " + path.string());
    return text;
}

std::string list(const std::vector<Ipv4>& ips) {
    std::string out;
    for (const auto& ip : ips) out += (out.empty() ? "" : ", ") + to_string(ip);
    return "[" + out + "]";
}

}  // namespace

std::string network_config(const std::vector<GuestNic>& nics) {
    if (nics.empty()) return {};
    std::string out = "version: 2\nethernets:\n";
    for (std::size_t i = 0; i < nics.size(); ++i) {
        const GuestNic& nic = nics[i];
        const std::string name = "eth" + std::to_string(i);
        out += "  " + name + ":\n";
        out += "    match:\n      macaddress: \"" + nic.mac + "\"\n";
        out += "    set-name: " + name + "\n";
        if (nic.dhcp || !nic.address) {
            out += "    dhcp4: true\n";
            continue;
        }
        out += "    dhcp4: false\n";
        out += "    addresses: [" + to_string(*nic.address) + "/" + std::to_string(nic.prefix) + "]\n";
        if (nic.gateway) out += "    routes:\n      - to: 0.0.0.0/0\n        via: " + to_string(*nic.gateway) + "\n";
        if (!nic.dns.empty()) out += "    nameservers:\n      addresses: " + list(nic.dns) + "\n";
    }
    return out;
}

NoCloudSeed make_seed(const SeedInput& input) {
    NoCloudSeed seed;
    seed.user_data = input.user_data;
    seed.network_config = network_config(input.nics);
    seed.instance_id = input.domain + "-" +
                       stable_hash(input.hostname + '\0' + seed.user_data + '\0' + seed.network_config);
    seed.meta_data = "instance-id: " + seed.instance_id + "\nlocal-hostname: " + input.hostname + "\n";
    return seed;
}

std::string seed_iso_image(const NoCloudSeed& seed) {
    const TemporaryDirectory work;
    const fs::path files = work.path() / "files";
    fs::create_directory(files);
    write_file(files / "meta-data", seed.meta_data);
    write_file(files / "user-data", seed.user_data);
    if (!seed.network_config.empty()) write_file(files / "network-config", seed.network_config);
    const fs::path image = work.path() / "seed.iso";
    const ProcessResult result =
        run_process({"xorriso", "-as", "mkisofs", "-quiet", "-input-charset", "utf-8", "-output", image.string(),
                     "-volid", "cidata", "-joliet", "-rock", files.string()},
                    xorriso_timeout);
    if (result.exit_code != 0 || result.timed_out)
        throw Error("cannot build the cloud-init seed image with xorriso" +
                        (result.timed_out ? std::string(" (timed out)") : ": " + result.err),
                    "check that xorriso works (Debian package xorriso, installed by scripts/setup)");
    return read_file(image);
}

}  // namespace vmlab
