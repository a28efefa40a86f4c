#include "vmlab/lab/loader.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace fs = std::filesystem;
using namespace vmlab;

namespace {

// Each test case works in a fresh directory of its own, removed afterwards.
class LoaderTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "vmlab-loader-test-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        m_dir = pattern;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }

    const fs::path& dir() const { return m_dir; }

    fs::path write(const fs::path& relative, std::string_view text) {
        const fs::path path = m_dir / relative;
        fs::create_directories(path.parent_path());
        std::ofstream out(path, std::ios::binary);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        return path;
    }

    LoadResult load(std::string_view lab_text, const LoadOptions& options = {}) {
        return load_lab(write("lab.toml", lab_text), options);
    }

    std::string lab_file() const { return (m_dir / "lab.toml").string(); }

private:
    fs::path m_dir;
};

std::string dump(const std::vector<Diagnostic>& diagnostics) {
    std::string out;
    for (const auto& d : diagnostics) out += "\n  " + format(d);
    return out.empty() ? " (no diagnostics)" : out;
}

// True when there is a diagnostic of this severity at file:line:column whose message has `part`.
::testing::AssertionResult has_diagnostic(const LoadResult& result, Severity severity, const std::string& file,
                                          std::uint32_t line, std::uint32_t column, std::string_view part) {
    for (const auto& d : result.diagnostics)
        if (d.severity == severity && d.where.file == file && d.where.line == line && d.where.column == column &&
            d.message.find(part) != std::string::npos)
            return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "no " << (severity == Severity::error ? "error" : "warning") << " at "
                                         << file << ':' << line << ':' << column << " containing \"" << part
                                         << "\"; got:" << dump(result.diagnostics);
}

std::size_t count(const LoadResult& result, Severity severity) {
    return static_cast<std::size_t>(std::count_if(result.diagnostics.begin(), result.diagnostics.end(),
                                                  [&](const Diagnostic& d) { return d.severity == severity; }));
}

#define EXPECT_ERROR_AT(result, line, column, part) \
    EXPECT_TRUE(has_diagnostic(result, Severity::error, lab_file(), line, column, part))

#define EXPECT_VALID(result)                                                   \
    do {                                                                       \
        EXPECT_TRUE((result).lab) << dump((result).diagnostics);               \
        EXPECT_FALSE(has_errors((result).diagnostics)) << dump((result).diagnostics); \
    } while (0)

// A qcow2 header: magic "QFI\xfb", version 3, and the virtual size (big-endian) at offset 24.
std::string qcow2_header(std::uint64_t virtual_bytes) {
    std::string header(512, '\0');
    header[0] = 'Q', header[1] = 'F', header[2] = 'I', header[3] = '\xfb';
    header[7] = 3;
    for (int i = 0; i < 8; ++i) header[24 + i] = static_cast<char>((virtual_bytes >> (8 * (7 - i))) & 0xff);
    return header;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// A valid lab and the defaults the loader fills in

TEST_F(LoaderTest, ValidLabGetsDefaults) {
    const auto result = load(R"([lab]
name = "demo"
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.lan]

[vms.web]
template = "tiny"
)");
    EXPECT_VALID(result);
    EXPECT_TRUE(result.diagnostics.empty()) << dump(result.diagnostics);
    ASSERT_TRUE(result.lab);
    const LabSpec& lab = *result.lab;
    EXPECT_EQ(lab.name, "demo");
    EXPECT_EQ(lab.title, "demo");  // the title defaults to the name
    EXPECT_EQ(lab.seats, 1u);
    EXPECT_EQ(lab.host_uri, "qemu:///system");
    EXPECT_EQ(lab.storage, "/var/lib/vmlab/pools/demo");
    EXPECT_EQ(lab.virtualization, Virtualization::automatic);
    EXPECT_EQ(lab.source_file, lab_file());
    EXPECT_NE(lab.source_text.find("[vms.web]"), std::string::npos);

    ASSERT_EQ(lab.templates.size(), 1u);
    const TemplateSpec& tpl = lab.templates[0];
    EXPECT_EQ(tpl.firmware, Firmware::bios);
    EXPECT_EQ(tpl.cpu_mode, CpuMode::host_model);
    EXPECT_EQ(tpl.nic_model, NicModel::virtio);
    EXPECT_EQ(tpl.image_format, DiskFormat::qcow2);
    EXPECT_EQ(tpl.memory_bytes, 512ull << 20);
    EXPECT_EQ(tpl.vcpus, 1u);

    ASSERT_EQ(lab.networks.size(), 1u);
    const NetworkSpec& lan = lab.networks[0];
    EXPECT_EQ(lan.mode, NetworkMode::isolated);
    EXPECT_EQ(lan.scope, NetworkScope::seat);
    EXPECT_EQ(lan.prefix, 24u);
    EXPECT_TRUE(lan.dhcp);
    EXPECT_FALSE(lan.cidr);

    ASSERT_EQ(lab.vms.size(), 1u);
    const VmSpec& web = lab.vms[0];
    EXPECT_EQ(web.template_name, "tiny");
    EXPECT_EQ(web.vcpus, 1u);
    EXPECT_EQ(web.memory_bytes, 512ull << 20);
    EXPECT_EQ(web.disk_bytes, 1ull << 30);
    EXPECT_EQ(web.boot, std::vector<BootDevice>{BootDevice::disk});
    EXPECT_EQ(web.console.kind, ConsoleKind::vnc);
    EXPECT_EQ(web.console.listen, "127.0.0.1");
    // A lab with exactly one network gives every VM without `nics` one NIC on it, addressed from 10.
    ASSERT_EQ(web.nics.size(), 1u);
    EXPECT_EQ(web.nics[0].network, "lan");
    EXPECT_EQ(web.nics[0].host, 10u);
}

TEST_F(LoaderTest, EveryKeyIsRead) {
    const auto result = load(R"([lab]
name = "full"
title = "Every key"
seats = 12
host = "qemu+ssh://lab-host/system"
storage = "pools/full"
cidr = "10.20.0.0/16"
virtualization = "qemu"

[templates.big]
firmware = "uefi"
cpu = "host-passthrough"
vcpus = 4
memory = "8GiB"
disk = "40GiB"
nic_model = "vmxnet3"

[networks.lan]
mode = "nat"
prefix = 26
dhcp = false

[networks.shared]
scope = "lab"
cidr = "172.30.0.0/22"

[vms.node]
template = "big"
vcpus = 2
memory = "2GiB"
disk = "50GiB"
disks = ["10GiB", "1TB"]
nics = [{ network = "lan", address = 5 }, { network = "shared" }]
boot = ["network", "disk"]
console = "spice"
console_listen = "0.0.0.0"
)");
    EXPECT_VALID(result);
    ASSERT_TRUE(result.lab);
    const LabSpec& lab = *result.lab;
    EXPECT_EQ(lab.title, "Every key");
    EXPECT_EQ(lab.seats, 12u);
    EXPECT_EQ(lab.host_uri, "qemu+ssh://lab-host/system");
    EXPECT_EQ(lab.storage, (dir() / "pools/full").string());  // relative to the lab file
    EXPECT_EQ(to_string(lab.cidr), "10.20.0.0/16");
    EXPECT_EQ(lab.virtualization, Virtualization::qemu);
    const TemplateSpec& big = *lab.find_template("big");
    EXPECT_EQ(big.firmware, Firmware::uefi);
    EXPECT_EQ(big.cpu_mode, CpuMode::host_passthrough);
    EXPECT_EQ(big.vcpus, 4u);
    EXPECT_EQ(big.memory_bytes, 8ull << 30);
    EXPECT_EQ(big.disk_bytes, 40ull << 30);
    EXPECT_EQ(big.nic_model, NicModel::vmxnet3);
    const NetworkSpec& lan = *lab.find_network("lan");
    EXPECT_EQ(lan.mode, NetworkMode::nat);
    EXPECT_EQ(lan.prefix, 26u);
    EXPECT_FALSE(lan.dhcp);
    const NetworkSpec& shared = *lab.find_network("shared");
    EXPECT_EQ(shared.scope, NetworkScope::lab);
    EXPECT_EQ(shared.prefix, 22u);
    ASSERT_TRUE(shared.cidr);
    EXPECT_EQ(to_string(*shared.cidr), "172.30.0.0/22");
    const VmSpec& node = lab.vms[0];
    EXPECT_EQ(node.vcpus, 2u);                  // the VM overrides its template
    EXPECT_EQ(node.memory_bytes, 2ull << 30);
    EXPECT_EQ(node.disk_bytes, 50ull << 30);
    ASSERT_EQ(node.extra_disks.size(), 2u);
    EXPECT_EQ(node.extra_disks[0].size_bytes, 10ull << 30);
    EXPECT_EQ(node.extra_disks[1].size_bytes, 1000ull * 1000 * 1000 * 1000);
    ASSERT_EQ(node.nics.size(), 2u);
    EXPECT_EQ(node.nics[0].host, 5u);
    EXPECT_EQ(node.nics[1].host, 10u);
    EXPECT_EQ(node.boot, (std::vector<BootDevice>{BootDevice::network, BootDevice::disk}));
    EXPECT_EQ(node.console.kind, ConsoleKind::spice);
    EXPECT_EQ(node.console.listen, "0.0.0.0");
}

TEST_F(LoaderTest, LoadLabTextNamesTheFileAndAnchorsPaths) {
    const std::string text = "[lab]\nname = \"demo\"\nstorage = \"pool\"\nseats = 0\n";
    const auto result = load_lab_text(text, dir() / "virtual.toml");
    EXPECT_TRUE(has_diagnostic(result, Severity::error, (dir() / "virtual.toml").string(), 4, 9, "out of range"));
}

// ---------------------------------------------------------------------------------------------
// One test per class of error, each at its exact place

TEST_F(LoaderTest, TomlSyntaxError) {
    const auto result = load("[lab]\nname = \"demo\nseats = 2\n");
    EXPECT_FALSE(result.lab);
    ASSERT_EQ(result.diagnostics.size(), 1u) << dump(result.diagnostics);
    EXPECT_ERROR_AT(result, 2, 13, "invalid TOML");
}

TEST_F(LoaderTest, TomlRedefinedTable) {
    const auto result = load("[lab]\nname = \"demo\"\n\n[lab]\n");
    EXPECT_ERROR_AT(result, 4, 1, "invalid TOML: Error while parsing table header: cannot redefine existing table 'lab'");
}

TEST_F(LoaderTest, WrongType) {
    const auto result = load(R"([lab]
name = "demo"
seats = "three"
)");
    EXPECT_FALSE(result.lab);
    EXPECT_ERROR_AT(result, 3, 9, "lab.seats: expected an integer, found a string");
}

TEST_F(LoaderTest, WrongTypeOfTable) {
    const auto result = load(R"([lab]
name = "demo"

[vms]
web = 3
)");
    EXPECT_ERROR_AT(result, 5, 7, "vms.web: expected a table, found an integer");
}

TEST_F(LoaderTest, UnknownKeyWithSuggestion) {
    const auto result = load(R"([lab]
name = "demo"
seat = 3
)");
    EXPECT_FALSE(result.lab);
    EXPECT_ERROR_AT(result, 3, 1, "unknown key 'lab.seat' (did you mean 'seats'?)");
}

TEST_F(LoaderTest, UnknownKeyInTemplateWithSuggestion) {
    const auto result = load(R"([lab]
name = "demo"

[templates.tiny]
disk = "1GiB"
memroy = "1GiB"

[vms.web]
template = "tiny"
)");
    EXPECT_ERROR_AT(result, 6, 1, "unknown key 'memroy' in templates.tiny (did you mean 'memory'?)");
}

TEST_F(LoaderTest, UnknownRootTable) {
    const auto result = load("[lab]\nname = \"demo\"\n\n[network.lan]\n");
    EXPECT_ERROR_AT(result, 4, 2, "unknown key 'network' (did you mean 'networks'?)");
}

TEST_F(LoaderTest, OutOfRangeInteger) {
    const auto result = load(R"([lab]
name = "demo"
seats = 10001

[networks.lan]
prefix = 30
)");
    EXPECT_ERROR_AT(result, 3, 9, "lab.seats = 10001 is out of range (1 to 10000)");
    EXPECT_ERROR_AT(result, 6, 10, "networks.lan.prefix = 30 is out of range (16 to 29)");
    EXPECT_TRUE(has_errors(load("[lab]\nname = \"demo\"\nseats = 0\n").diagnostics));
    EXPECT_FALSE(has_errors(load("[lab]\nname = \"demo\"\nseats = 10000\n").diagnostics));
}

TEST_F(LoaderTest, BadSizeString) {
    const auto result = load(R"([lab]
name = "demo"

[templates.tiny]
disk = "1GiB"

[vms.web]
template = "tiny"
memory = "lots"
disk = 20
disks = ["1.3KiB", "8GB"]
)");
    EXPECT_ERROR_AT(result, 9, 10, "vms.web.memory: 'lots' is not a size");
    EXPECT_ERROR_AT(result, 10, 8, "vms.web.disk: expected a size with a unit such as \"512MiB\" or \"20GiB\", found an integer");
    EXPECT_ERROR_AT(result, 11, 10, "vms.web.disks: '1.3KiB' is not a whole number of bytes; round it, or write it in a smaller unit");
    EXPECT_EQ(count(result, Severity::error), 3u) << dump(result.diagnostics);
}

TEST_F(LoaderTest, SizeOutOfRange) {
    const auto result = load(R"([lab]
name = "demo"

[templates.tiny]
disk = "1GiB"

[vms.web]
template = "tiny"
memory = "8MiB"
)");
    EXPECT_ERROR_AT(result, 9, 10, "vms.web.memory = 8MiB is out of range (16MiB to 4TiB)");
}

TEST_F(LoaderTest, BadEnumValueWithSuggestion) {
    const auto result = load(R"([lab]
name = "demo"

[templates.tiny]
disk = "1GiB"
firmware = "uefl"

[networks.lan]
mode = "isolate"

[vms.web]
template = "tiny"
boot = ["disk", "pxe"]
)");
    EXPECT_ERROR_AT(result, 6, 12, "template tiny.firmware: 'uefl' is not one of bios, uefi (did you mean 'uefi'?)");
    EXPECT_ERROR_AT(result, 9, 8, "networks.lan.mode: 'isolate' is not one of isolated, nat, fenced (did you mean 'isolated'?)");
    EXPECT_ERROR_AT(result, 13, 17, "vms.web.boot: 'pxe' is not one of disk, network, cdrom");
}

TEST_F(LoaderTest, MissingRequiredKey) {
    const auto result = load(R"([lab]
title = "no name"

[templates.tiny]
disk = "1GiB"

[networks.lan]

[vms.web]
nics = [{ address = 10 }]
)");
    EXPECT_ERROR_AT(result, 1, 1, "[lab] is missing 'name' (e.g. name = \"my-lab\")");
    EXPECT_ERROR_AT(result, 9, 1, "[vms.web] is missing 'template' (e.g. template = \"tiny\")");
    EXPECT_ERROR_AT(result, 10, 9, "[vms.web.nics] is missing 'network'");
}

TEST_F(LoaderTest, MissingLabTable) {
    const auto result = load("[vms.web]\ntemplate = \"tiny\"\n");
    EXPECT_FALSE(result.lab);
    EXPECT_ERROR_AT(result, 1, 1, "missing the [lab] table");
}

TEST_F(LoaderTest, InvalidNames) {
    const auto result = load(R"([lab]
name = "Demo"

[templates.tiny]
disk = "1GiB"

[networks.my_net]
[networks.abcdefghijklmnop]

[vms.abcdefghijklmnopqrstu]
template = "tiny"
nics = []
[vms.web-]
template = "tiny"
nics = []
)");
    EXPECT_ERROR_AT(result, 2, 1, "lab.name 'Demo' is not valid: use lowercase letters, digits and '-', start with a letter, at most 20 characters");
    EXPECT_ERROR_AT(result, 7, 11, "network name 'my_net' is not valid");
    EXPECT_ERROR_AT(result, 8, 11, "network name 'abcdefghijklmnop' is not valid");  // 16 > 15
    EXPECT_ERROR_AT(result, 10, 6, "VM name 'abcdefghijklmnopqrstu' is not valid");     // 21 > 20
    EXPECT_ERROR_AT(result, 13, 6, "VM name 'web-' is not valid");
    EXPECT_ERROR_AT(result, 1, 1, "lab.cidr is required");  // names do not hide the address checks
    EXPECT_EQ(count(result, Severity::error), 6u) << dump(result.diagnostics);
}

TEST_F(LoaderTest, NamesAtTheirLongestAreValid) {
    const auto result = load(R"([lab]
name = "abcdefghijklmnopqrst"
cidr = "10.1.0.0/16"

[templates.abcdefghijklmnopqrstuvwxyzabcdefghijklmn]
disk = "1GiB"

[networks.abcdefghijklmno]

[vms.a-1-b-2-c-3-d-4-e-5-]
template = "abcdefghijklmnopqrstuvwxyzabcdefghijklmn"
[vms.abcdefghijklmnopqrst]
template = "abcdefghijklmnopqrstuvwxyzabcdefghijklmn"
)");
    // "a-1-...-5-" ends with '-': the only error.
    EXPECT_ERROR_AT(result, 10, 6, "VM name 'a-1-b-2-c-3-d-4-e-5-' is not valid");
    EXPECT_EQ(count(result, Severity::error), 1u) << dump(result.diagnostics);
}

TEST(LoaderNames, IsValidName) {
    EXPECT_TRUE(is_valid_name("a", 20));
    EXPECT_TRUE(is_valid_name("web-01", 20));
    EXPECT_TRUE(is_valid_name("x2", 2));
    EXPECT_FALSE(is_valid_name("x23", 2));
    EXPECT_FALSE(is_valid_name("", 20));
    EXPECT_FALSE(is_valid_name("1web", 20));
    EXPECT_FALSE(is_valid_name("-web", 20));
    EXPECT_FALSE(is_valid_name("web-", 20));
    EXPECT_FALSE(is_valid_name("Web", 20));
    EXPECT_FALSE(is_valid_name("web_1", 20));
    EXPECT_FALSE(is_valid_name("web.1", 20));
    EXPECT_FALSE(is_valid_name("wéb", 20));
}

TEST_F(LoaderTest, UnknownTemplateWithSuggestion) {
    const auto result = load(R"([lab]
name = "demo"

[templates.tiny]
disk = "1GiB"

[vms.web]
template = "tiyn"
)");
    EXPECT_ERROR_AT(result, 8, 1, "no template named 'tiyn' (did you mean 'tiny'?) (searched inline [templates] and " +
                                      (dir() / "templates/tiyn.toml").string());
}

TEST_F(LoaderTest, UnknownTemplateSuggestsTemplateFiles) {
    write("templates/debian12.toml", "disk = \"1GiB\"\n");
    const auto result = load(R"([lab]
name = "demo"

[vms.web]
template = "debain12"
)");
    EXPECT_ERROR_AT(result, 5, 1, "no template named 'debain12' (did you mean 'debian12'?)");
}

TEST_F(LoaderTest, TemplatesThatExtendEachOther) {
    const auto result = load(R"([lab]
name = "demo"

[templates.a]
extends = "b"
disk = "1GiB"

[templates.b]
extends = "a"

[vms.web]
template = "a"
)");
    EXPECT_ERROR_AT(result, 9, 11, "template 'a' extends itself (a -> b -> a)");
    EXPECT_EQ(count(result, Severity::error), 1u) << dump(result.diagnostics);
}

TEST_F(LoaderTest, TemplateFileThatExtendsItself) {
    const fs::path loop = write("templates/loop.toml", "extends = \"loop\"\nmemory = \"1GiB\"\n");
    const auto result = load("[lab]\nname = \"demo\"\n\n[vms.web]\ntemplate = \"loop\"\n");
    EXPECT_TRUE(has_diagnostic(result, Severity::error, loop.string(), 1, 11, "template 'loop' extends itself (loop -> loop)"));
}

TEST_F(LoaderTest, TemplateExtendsUnknownParent) {
    const auto result = load(R"([lab]
name = "demo"

[templates.child]
extends = "parnet"

[templates.parent]
disk = "1GiB"

[vms.web]
template = "child"
)");
    EXPECT_ERROR_AT(result, 5, 11, "no template named 'parnet' (did you mean 'parent'?)");
}

TEST_F(LoaderTest, ExtendsMergesParentFirst) {
    write("templates/base.toml", "memory = \"1GiB\"\nvcpus = 2\nfirmware = \"uefi\"\n");
    write("templates/big.toml", "extends = \"base\"\nmemory = \"4GiB\"\n");
    const auto result = load(R"([lab]
name = "demo"

[templates.inline]
extends = "big"
disk = "10GiB"

[vms.web]
template = "inline"
)");
    EXPECT_VALID(result);
    ASSERT_TRUE(result.lab);
    const TemplateSpec* tpl = result.lab->find_template("inline");
    ASSERT_NE(tpl, nullptr);
    EXPECT_EQ(tpl->memory_bytes, 4ull << 30);  // big overrides base
    EXPECT_EQ(tpl->vcpus, 2u);                 // from base
    EXPECT_EQ(tpl->firmware, Firmware::uefi);  // from base
    EXPECT_EQ(tpl->disk_bytes, 10ull << 30);   // inline's own
    // Only the templates VMs use are in the lab.
    EXPECT_EQ(result.lab->templates.size(), 1u);
}

TEST_F(LoaderTest, ErrorsInTemplateFilesPointIntoThem) {
    const fs::path tpl = write("templates/bad.toml", "# a bad template\nmemory = \"1 gig\"\ncpu = \"host-pasthrough\"\n");
    const auto result = load("[lab]\nname = \"demo\"\n\n[vms.web]\ntemplate = \"bad\"\n");
    EXPECT_TRUE(has_diagnostic(result, Severity::error, tpl.string(), 2, 10, "template bad.memory: '1 gig' is not a size"));
    EXPECT_TRUE(has_diagnostic(result, Severity::error, tpl.string(), 3, 7, "(did you mean 'host-passthrough'?)"));
}

TEST_F(LoaderTest, ProblemsOfASharedParentFileAreReportedOnce) {
    const fs::path base = write("templates/base.toml", "memroy = \"1GiB\"\ndisk = \"1GiB\"\n");
    write("templates/a.toml", "extends = \"base\"\n");
    write("templates/b.toml", "extends = \"base\"\n");
    const auto result = load("[lab]\nname = \"demo\"\n[vms.one]\ntemplate = \"a\"\n[vms.two]\ntemplate = \"b\"\n");
    ASSERT_EQ(result.diagnostics.size(), 1u) << dump(result.diagnostics);
    EXPECT_TRUE(has_diagnostic(result, Severity::error, base.string(), 1, 1, "unknown key 'memroy' in template base"));

    write("templates/base.toml", "memory = \"1GiB\n");
    const auto broken = load_lab(dir() / "lab.toml");
    ASSERT_EQ(broken.diagnostics.size(), 1u) << dump(broken.diagnostics);
    EXPECT_TRUE(has_diagnostic(broken, Severity::error, base.string(), 1, 15, "invalid TOML"));
}

TEST_F(LoaderTest, TemplateSearchOrder) {
    // Inline first, then <lab dir>/templates, <lab dir>/../templates, then LoadOptions::template_dirs.
    write("labs/templates/one.toml", "memory = \"1GiB\"\ndisk = \"1GiB\"\n");
    write("templates/one.toml", "memory = \"2GiB\"\ndisk = \"1GiB\"\n");
    write("templates/two.toml", "memory = \"2GiB\"\ndisk = \"1GiB\"\n");
    write("extra/two.toml", "memory = \"3GiB\"\ndisk = \"1GiB\"\n");
    write("extra/three.toml", "memory = \"3GiB\"\ndisk = \"1GiB\"\n");
    write("templates/four.toml", "memory = \"2GiB\"\ndisk = \"1GiB\"\n");
    const fs::path lab = write("labs/lab.toml", R"([lab]
name = "demo"

[templates.four]
memory = "4GiB"
disk = "1GiB"

[vms.a]
template = "one"
[vms.b]
template = "two"
[vms.c]
template = "three"
[vms.d]
template = "four"
)");
    LoadOptions options;
    options.template_dirs.push_back(dir() / "extra");
    const auto result = load_lab(lab, options);
    EXPECT_VALID(result);
    ASSERT_TRUE(result.lab);
    EXPECT_EQ(result.lab->find_template("one")->memory_bytes, 1ull << 30);
    EXPECT_EQ(result.lab->find_template("two")->memory_bytes, 2ull << 30);
    EXPECT_EQ(result.lab->find_template("three")->memory_bytes, 3ull << 30);
    EXPECT_EQ(result.lab->find_template("four")->memory_bytes, 4ull << 30);
    // Without the extra directory, "three" is not found.
    EXPECT_TRUE(has_errors(load_lab(lab).diagnostics));
}

TEST_F(LoaderTest, RelativePathsAreRelativeToTheFileThatNamesThem) {
    write("templates/images/base.img", "raw disk bytes");
    write("kernels/vmlinuz", "kernel");
    write("templates/guest.toml", "image = \"images/base.img\"\nformat = \"raw\"\n");
    const auto result = load(R"([lab]
name = "demo"

[templates.direct]
kernel = "kernels/vmlinuz"
disk = "1GiB"

[vms.a]
template = "guest"
[vms.b]
template = "direct"
)");
    EXPECT_VALID(result);
    ASSERT_TRUE(result.lab);
    EXPECT_TRUE(result.diagnostics.empty()) << dump(result.diagnostics);
    EXPECT_EQ(result.lab->find_template("guest")->image, (dir() / "templates/images/base.img").string());
    EXPECT_EQ(result.lab->find_template("guest")->image_virtual_bytes, 14u);  // raw: the file size
    EXPECT_EQ(result.lab->find_template("direct")->kernel, (dir() / "kernels/vmlinuz").string());
}

TEST_F(LoaderTest, UnknownNetworkInNicWithSuggestion) {
    const auto result = load(R"([lab]
name = "demo"
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.lan]

[vms.web]
template = "tiny"
nics = [{ network = "lna", address = 10 }]
)");
    EXPECT_ERROR_AT(result, 12, 11, "vms.web.nics: no network named 'lna' (did you mean 'lan'?)");
}

// The address checks run once everything else is valid.
constexpr const char* address_lab_head = R"([lab]
name = "demo"
seats = 2
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.lan]
)";

TEST_F(LoaderTest, DuplicateFixedAddress) {
    const auto result = load(std::string(address_lab_head) + R"(
[vms.a]
template = "tiny"
nics = [{ network = "lan", address = 20 }]

[vms.b]
template = "tiny"
nics = [{ network = "lan", address = 20 }]
)");
    EXPECT_FALSE(result.lab);
    EXPECT_ERROR_AT(result, 17, 38, "vms.b: address 20 on network 'lan' is already used by another NIC");
    EXPECT_EQ(count(result, Severity::error), 1u) << dump(result.diagnostics);
}

TEST_F(LoaderTest, AddressInsideDhcpPool) {
    const auto result = load(std::string(address_lab_head) + R"(
[vms.a]
template = "tiny"
nics = [{ network = "lan", address = 128 }]
[vms.b]
template = "tiny"
nics = [{ network = "lan", address = 1 }]
[vms.c]
template = "tiny"
nics = [{ network = "lan", address = 127 }]
)");
    EXPECT_ERROR_AT(result, 13, 38, "vms.a: address 128 does not fit network 'lan' (/24): use 2 to 127 (the DHCP pool starts above)");
    EXPECT_ERROR_AT(result, 16, 38, "vms.b: address 1 does not fit network 'lan'");  // .1 is the host side
    EXPECT_EQ(count(result, Severity::error), 2u) << dump(result.diagnostics);
}

TEST_F(LoaderTest, AddressOutOfRangeOfAnyNetwork) {
    const auto result = load(std::string(address_lab_head) + R"(
[vms.a]
template = "tiny"
nics = [{ network = "lan", address = 0 }]
)");
    EXPECT_ERROR_AT(result, 13, 38, "vms.a.nics.address = 0 is out of range (1 to 16777214)");
}

TEST_F(LoaderTest, SubnetFullOfFixedAddresses) {
    const auto result = load(R"([lab]
name = "demo"
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.lan]
prefix = 29

[vms.a]
template = "tiny"
nics = [{ network = "lan", address = 2 }]
[vms.b]
template = "tiny"
nics = [{ network = "lan", address = 3 }]
[vms.c]
template = "tiny"
)");
    // A /29 has hosts 2-3 below its pool (4-6); c has none left.
    EXPECT_ERROR_AT(result, 17, 6, "vms.c: network 'lan' has no free address left for this NIC");
}

TEST_F(LoaderTest, LabCidrTooSmallForTheSeats) {
    const auto result = load(R"([lab]
name = "demo"
seats = 300
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.lan]

[vms.web]
template = "tiny"
)");
    EXPECT_FALSE(result.lab);
    EXPECT_ERROR_AT(result, 4, 8, "lab.cidr: 10.210.0.0/16 holds 65536 addresses but 300 seats need at least 76800");
    // 256 seats of /24 fill a /16 exactly.
    const auto fits = load(R"([lab]
name = "demo"
seats = 256
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.lan]

[vms.web]
template = "tiny"
)");
    EXPECT_VALID(fits);
}

TEST_F(LoaderTest, NetworkWiderThanTheLabCidr) {
    const auto result = load(R"([lab]
name = "demo"
cidr = "10.210.0.0/24"

[templates.tiny]
disk = "1GiB"

[networks.lan]
prefix = 16

[vms.web]
template = "tiny"
)");
    EXPECT_ERROR_AT(result, 3, 8, "lab.cidr: network 'lan' wants a /16 but lab.cidr 10.210.0.0/24 is smaller");
}

TEST_F(LoaderTest, CidrWithHostBitsSet) {
    const auto result = load(R"([lab]
name = "demo"
cidr = "10.210.0.1/16"

[networks.shared]
scope = "lab"
cidr = "172.16.0.1/24"
)");
    EXPECT_ERROR_AT(result, 3, 8, "lab.cidr: '10.210.0.1/16' is not an IPv4 network such as \"10.210.0.0/16\" (host bits must be zero)");
    EXPECT_ERROR_AT(result, 7, 8, "networks.shared.cidr: '172.16.0.1/24' is not an IPv4 network between /8 and /29");
}

TEST_F(LoaderTest, MissingLabCidr) {
    const auto result = load(R"([lab]
name = "demo"

[templates.tiny]
disk = "1GiB"

[networks.lan]

[vms.web]
template = "tiny"
)");
    EXPECT_ERROR_AT(result, 1, 1, "lab.cidr is required");
}

TEST_F(LoaderTest, OverlappingLabWideCidrs) {
    const auto result = load(R"([lab]
name = "demo"
cidr = "10.210.0.0/16"

[networks.alpha]
scope = "lab"
cidr = "192.168.0.0/16"

[networks.beta]
scope = "lab"
cidr = "192.168.5.0/24"

[networks.gamma]
scope = "lab"
cidr = "10.210.8.0/24"
)");
    EXPECT_ERROR_AT(result, 9, 11, "networks.beta.cidr 192.168.5.0/24 overlaps networks.alpha.cidr 192.168.0.0/16");
    EXPECT_ERROR_AT(result, 13, 11, "networks.gamma.cidr 10.210.8.0/24 overlaps lab.cidr 10.210.0.0/16");
    EXPECT_EQ(count(result, Severity::error), 2u) << dump(result.diagnostics);
}

TEST_F(LoaderTest, ExplicitCidrOnAPerSeatNetwork) {
    const auto result = load(R"([lab]
name = "demo"
cidr = "10.210.0.0/16"

[networks.lan]
cidr = "192.168.0.0/24"
)");
    EXPECT_ERROR_AT(result, 5, 11, "networks.lan: an explicit cidr on a per-seat network would repeat in every seat");
}

TEST_F(LoaderTest, FencedNetworkWithoutCidr) {
    const auto result = load(R"([lab]
name = "demo"

[networks.mgmt]
mode = "fenced"
)");
    EXPECT_ERROR_AT(result, 4, 11, "networks.mgmt: a fenced network needs cidr = \"...\"");
}

TEST_F(LoaderTest, FencedNetworkWithDhcp) {
    const auto result = load(R"([lab]
name = "demo"

[networks.mgmt]
mode = "fenced"
cidr = "192.168.10.0/24"
dhcp = true
)");
    EXPECT_ERROR_AT(result, 7, 1, "networks.mgmt.dhcp: a fenced network has no host-side address, so the host cannot serve DHCP");
    EXPECT_EQ(count(result, Severity::error), 1u) << dump(result.diagnostics);
}

TEST_F(LoaderTest, FencedNetworkIsPerSeat) {
    const auto result = load(R"([lab]
name = "demo"

[networks.mgmt]
mode = "fenced"
scope = "lab"
cidr = "192.168.10.0/24"
)");
    EXPECT_ERROR_AT(result, 6, 1, "networks.mgmt: fenced networks are per seat");
}

TEST_F(LoaderTest, FencedNetworksNeedNoLabCidrAndAllowDotOne) {
    const auto result = load(R"([lab]
name = "demo"
seats = 3

[templates.tiny]
disk = "1GiB"

[networks.mgmt]
mode = "fenced"
cidr = "192.168.10.0/24"

[vms.router]
template = "tiny"
nics = [{ network = "mgmt", address = 1 }]
[vms.host]
template = "tiny"
nics = [{ network = "mgmt", address = 254 }]
[vms.other]
template = "tiny"
)");
    EXPECT_VALID(result);
    ASSERT_TRUE(result.lab);
    EXPECT_FALSE(result.lab->find_network("mgmt")->dhcp);
    const VmSpec& other = result.lab->vms[1];
    ASSERT_EQ(other.name, "other");
    ASSERT_EQ(other.nics.size(), 1u);
    EXPECT_FALSE(other.nics[0].host);  // no DHCP, no fixed address: the guest configures itself
}

TEST_F(LoaderTest, LabWideNetworkRefusesFixedAddressesWithSeveralSeats) {
    const auto result = load(R"([lab]
name = "demo"
seats = 2
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.services]
scope = "lab"

[vms.web]
template = "tiny"
nics = [{ network = "services", address = 20 }]
)");
    EXPECT_ERROR_AT(result, 14, 43, "vms.web: a fixed address on lab-wide network 'services' would be the same in every seat");
}

TEST_F(LoaderTest, LabWideNetworkTooSmallForAllSeats) {
    const auto result = load(R"([lab]
name = "demo"
seats = 100
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.services]
scope = "lab"

[vms.web]
template = "tiny"
[vms.db]
template = "tiny"
)");
    EXPECT_ERROR_AT(result, 9, 11, "networks.services: 100 seats x 2 NICs need host numbers up to 209");
}

TEST_F(LoaderTest, TooManyVmsNetworksAndNics) {
    std::string text = "[lab]\nname = \"demo\"\ncidr = \"10.0.0.0/8\"\n\n[templates.tiny]\ndisk = \"1GiB\"\n";
    for (int i = 0; i < 100; ++i) text += "[networks.n" + std::to_string(i) + "]\n";
    text += "[vms]\n";
    for (int i = 0; i < 33; ++i) text += "v" + std::to_string(i) + " = { template = \"tiny\", nics = [] }\n";
    text += "[vms.many]\ntemplate = \"tiny\"\nnics = [";
    for (int i = 0; i < 9; ++i) text += "{ network = \"n" + std::to_string(i) + "\" }, ";
    text += "]\n";
    const auto result = load(text);
    const auto has = [&](std::string_view part) {
        return std::any_of(result.diagnostics.begin(), result.diagnostics.end(),
                           [&](const Diagnostic& d) { return d.message.find(part) != std::string::npos; });
    };
    EXPECT_TRUE(has("at most 99 networks")) << dump(result.diagnostics);
    EXPECT_TRUE(has("at most 32 VMs per seat")) << dump(result.diagnostics);
    EXPECT_TRUE(has("vms.many.nics: at most 8 NICs per VM")) << dump(result.diagnostics);
}

TEST_F(LoaderTest, NothingToBootFrom) {
    const auto result = load(R"([lab]
name = "demo"

[templates.empty]
vcpus = 1

[vms.web]
template = "empty"
)");
    EXPECT_ERROR_AT(result, 7, 6, "vms.web: template 'empty' has no image, no kernel and no disk size: nothing to boot from");
}

TEST_F(LoaderTest, DirectKernelBootChecks) {
    const auto result = load(R"([lab]
name = "demo"

[templates.k]
kernel = "/var/lib/vmlab/images/nonexistent/vmlinuz"
memory = "64MiB"
[templates.i]
initrd = "/var/lib/vmlab/images/nonexistent/initrd"
disk = "1GiB"

[vms.a]
template = "k"
[vms.b]
template = "i"
)");
    EXPECT_ERROR_AT(result, 8, 1, "template i: initrd needs a kernel (direct kernel boot)");
    EXPECT_TRUE(has_diagnostic(result, Severity::warning, lab_file(), 5, 1, "kernel /var/lib/vmlab/images/nonexistent/vmlinuz does not exist"));
    EXPECT_TRUE(has_diagnostic(result, Severity::warning, lab_file(), 11, 6, "below 80MiB"));
}

TEST_F(LoaderTest, LongNamesDoNotSlowDownSuggestions) {
    // Two 400 KB names that differ: "did you mean" must not compare them character by character
    // (that took hours before the suggestion skipped long words).
    const std::string network(400'000, 'a'), used(400'000, 'b');
    const auto started = std::chrono::steady_clock::now();
    const auto result = load("[lab]\nname = \"demo\"\n[networks." + network + "]\n[vms.web]\ntemplate = \"t\"\nnics = [{ network = \"" +
                             used + "\" }]\n");
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
    EXPECT_ERROR_AT(result, 6, 11, "vms.web.nics: no network named 'bbbb");
}

// ---------------------------------------------------------------------------------------------
// Files that are not lab files

TEST_F(LoaderTest, EmptyFile) {
    const auto result = load("");
    EXPECT_FALSE(result.lab);
    ASSERT_EQ(result.diagnostics.size(), 1u) << dump(result.diagnostics);
    EXPECT_ERROR_AT(result, 1, 1, "missing the [lab] table");
}

TEST_F(LoaderTest, BinaryGarbage) {
    std::mt19937 random(42);
    std::string bytes(4096, '\0');
    for (auto& b : bytes) b = static_cast<char>(random() & 0xff);
    bytes[100] = '\0';
    const auto result = load(bytes);
    EXPECT_FALSE(result.lab);
    ASSERT_EQ(result.diagnostics.size(), 1u) << dump(result.diagnostics);
    EXPECT_ERROR_AT(result, 0, 0, "the file contains NUL bytes");

    // Without NUL bytes it is a TOML error, not a crash.
    for (int round = 0; round < 50; ++round) {
        for (auto& b : bytes) b = static_cast<char>(random() % 255 + 1);
        const auto noise = load_lab_text(bytes, dir() / "noise.toml");
        EXPECT_FALSE(noise.lab);
        EXPECT_TRUE(has_errors(noise.diagnostics));
    }
}

TEST_F(LoaderTest, FileLargerThanOneMebibyte) {
    std::string text = "[lab]\nname = \"demo\"\n";
    text.resize(max_lab_file_bytes + 1, '#');
    const auto result = load(text);
    EXPECT_FALSE(result.lab);
    EXPECT_ERROR_AT(result, 0, 0, "the file is larger than 1 MiB");
    EXPECT_TRUE(has_diagnostic(load_lab_text(text, lab_file()), Severity::error, lab_file(), 0, 0, "larger than 1 MiB"));
}

TEST_F(LoaderTest, Directory) {
    fs::create_directories(dir() / "lab.toml");
    const auto result = load_lab(dir() / "lab.toml");
    EXPECT_FALSE(result.lab);
    EXPECT_ERROR_AT(result, 0, 0, "is a directory, not a lab file");
}

TEST_F(LoaderTest, MissingFile) {
    const auto result = load_lab(dir() / "lab.toml");
    EXPECT_FALSE(result.lab);
    ASSERT_EQ(result.diagnostics.size(), 1u);
    EXPECT_ERROR_AT(result, 0, 0, "no such file");
    EXPECT_EQ(format(result.diagnostics[0]), lab_file() + ": error: no such file");
}

// ---------------------------------------------------------------------------------------------
// Images

TEST_F(LoaderTest, Qcow2VirtualSizeIsRead) {
    write("images/disk.qcow2", qcow2_header(10ull << 30));
    const auto result = load(R"([lab]
name = "demo"

[templates.guest]
image = "images/disk.qcow2"

[vms.web]
template = "guest"
[vms.small]
template = "guest"
disk = "5GiB"
)");
    ASSERT_TRUE(result.lab == std::nullopt);
    EXPECT_ERROR_AT(result, 11, 8, "vms.small.disk: 5GiB is smaller than the image of template 'guest' (10GiB)");

    const auto ok = load(R"([lab]
name = "demo"

[templates.guest]
image = "images/disk.qcow2"

[vms.web]
template = "guest"
)");
    EXPECT_VALID(ok);
    EXPECT_TRUE(ok.diagnostics.empty()) << dump(ok.diagnostics);
    ASSERT_TRUE(ok.lab);
    EXPECT_EQ(ok.lab->templates[0].image, (dir() / "images/disk.qcow2").string());
    EXPECT_EQ(ok.lab->templates[0].image_virtual_bytes, 10ull << 30);
}

TEST_F(LoaderTest, NonQcow2FileWithFormatQcow2) {
    write("images/disk.img", std::string(1024, 'x'));
    const auto result = load(R"([lab]
name = "demo"

[templates.guest]
image = "images/disk.img"

[vms.web]
template = "guest"
)");
    EXPECT_FALSE(result.lab);
    EXPECT_ERROR_AT(result, 5, 1, "template guest: " + (dir() / "images/disk.img").string() +
                                      " is not a qcow2 image; set format = \"raw\" if it is raw");
    // A file shorter than a qcow2 header is not one either.
    write("images/disk.img", "QFI\xfb");
    EXPECT_TRUE(has_errors(load_lab(dir() / "lab.toml").diagnostics));
}

TEST_F(LoaderTest, ImagesOutsideTheAllowedDirectoriesAreErrors) {
    write("images/disk.img", "raw");
    fs::create_symlink("/etc/passwd", dir() / "images/escape.img");
    const auto result = load(R"([lab]
name = "demo"

[templates.absolute]
image = "/etc/passwd"
format = "raw"
[templates.dotdot]
kernel = "images/../../outside/vmlinuz"
[templates.symlink]
image = "images/escape.img"
format = "raw"
[templates.inside]
image = "images/disk.img"
format = "raw"

[vms.a]
template = "inside"
[vms.b]
template = "absolute"
[vms.c]
template = "dotdot"
[vms.d]
template = "symlink"
)");
    EXPECT_ERROR_AT(result, 5, 9, "image: /etc/passwd is outside the directories images may come from");
    EXPECT_ERROR_AT(result, 8, 10, "is outside the directories images may come from");
    EXPECT_ERROR_AT(result, 10, 9, "(/etc/passwd) is outside the directories images may come from");
    EXPECT_TRUE(has_diagnostic(result, Severity::error, lab_file(), 5, 9, "VMLAB_IMAGE_DIRS"));
    EXPECT_FALSE(has_diagnostic(result, Severity::error, lab_file(), 13, 9, "outside"));
}

TEST_F(LoaderTest, StorageWithFilesVmlabDidNotCreateIsAnError) {
    write("pool/demo-s01-a-root.qcow2", "ours");
    const std::string lab =
        "[lab]\nname = \"demo\"\nstorage = \"pool\"\n[templates.t]\ndisk = \"1GiB\"\n[vms.a]\ntemplate = \"t\"\n";
    EXPECT_VALID(load(lab));
    write("pool/thesis.odt", "not ours");
    const auto result = load(lab);
    EXPECT_ERROR_AT(result, 3, 11, "lab.storage: " + (dir() / "pool").string() + " holds files vmlab did not create (thesis.odt)");
}

TEST_F(LoaderTest, TheOperatorCanAllowMoreImageDirectories) {
    std::string other = (fs::temp_directory_path() / "vmlab-loader-images-XXXXXX").string();
    ASSERT_NE(::mkdtemp(other.data()), nullptr);
    std::ofstream(fs::path(other) / "disk.img") << "raw";
    const std::string lab = "[lab]\nname = \"demo\"\n[templates.t]\nimage = \"" + other +
                            "/disk.img\"\nformat = \"raw\"\n[vms.a]\ntemplate = \"t\"\n";
    EXPECT_TRUE(has_errors(load(lab).diagnostics));
    LoadOptions options;
    options.image_dirs.push_back(other);
    EXPECT_VALID(load(lab, options));
    fs::remove_all(other);
}

TEST(LoadOptionsFromEnvironment, ReadsColonSeparatedImageDirectories) {
    ::setenv("VMLAB_IMAGE_DIRS", "/srv/images::/data/vm images:", 1);
    EXPECT_EQ(load_options_from_environment().image_dirs,
              (std::vector<fs::path>{"/srv/images", "/data/vm images"}));
    ::unsetenv("VMLAB_IMAGE_DIRS");
    EXPECT_TRUE(load_options_from_environment().image_dirs.empty());
}

TEST(IsInside, ComparesWholeComponentsOfResolvedPaths) {
    EXPECT_TRUE(is_inside("/var/lib/vmlab/images/a.qcow2", "/var/lib/vmlab/images"));
    EXPECT_TRUE(is_inside("/var/lib/vmlab/images/sub/a.qcow2", "/var/lib/vmlab/images/"));
    EXPECT_FALSE(is_inside("/var/lib/vmlab/images-evil/a.qcow2", "/var/lib/vmlab/images"));
    EXPECT_FALSE(is_inside("/var/lib/vmlab/images/../secret", "/var/lib/vmlab/images"));
    EXPECT_FALSE(is_inside("/etc/passwd", "/var/lib/vmlab/images"));
}

TEST_F(LoaderTest, MissingImageIsAWarning) {
    const auto result = load(R"([lab]
name = "demo"

[templates.guest]
image = "/var/lib/vmlab/images/nonexistent/guest.qcow2"

[vms.web]
template = "guest"
)");
    EXPECT_VALID(result);
    ASSERT_EQ(result.diagnostics.size(), 1u) << dump(result.diagnostics);
    EXPECT_TRUE(has_diagnostic(result, Severity::warning, lab_file(), 5, 1,
                               "template guest: image /var/lib/vmlab/images/nonexistent/guest.qcow2 does not exist on this machine"));
    EXPECT_EQ(result.lab->templates[0].image_virtual_bytes, 0u);
}

// ---------------------------------------------------------------------------------------------
// All problems at once

TEST_F(LoaderTest, ReportsAllProblemsAtOnce) {
    const auto result = load(R"([lab]
name = "demo"
seats = 0

[templates.tiny]
disk = "1GiB"

[networks.lan]
mode = "bridged"

[vms.web]
template = "tiny"
vcpu = 2
)");
    EXPECT_FALSE(result.lab);
    ASSERT_EQ(result.diagnostics.size(), 3u) << dump(result.diagnostics);
    // Sorted by place in the file.
    EXPECT_EQ(result.diagnostics[0].where.line, 3u);
    EXPECT_EQ(result.diagnostics[1].where.line, 9u);
    EXPECT_EQ(result.diagnostics[2].where.line, 13u);
    EXPECT_ERROR_AT(result, 3, 9, "lab.seats = 0 is out of range");
    EXPECT_ERROR_AT(result, 9, 8, "networks.lan.mode: 'bridged' is not one of isolated, nat, fenced");
    EXPECT_ERROR_AT(result, 13, 1, "unknown key 'vms.web.vcpu' (did you mean 'vcpus'?)");
    EXPECT_EQ(format(result.diagnostics[0]), lab_file() + ":3:9: error: lab.seats = 0 is out of range (1 to 10000)");
}

// Address checks run whatever else is wrong, skipping only what a wrong value leaves unknown.
TEST_F(LoaderTest, AddressProblemsAreReportedWithOtherErrors) {
    const auto result = load(R"([lab]
name = "demo"
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.lan]

[networks.mgmt]
mode = "fenced"
cidr = "192.168.10.0/24"
dhcp = true

[networks.alpha]
scope = "lab"
cidr = "172.16.0.0/16"

[networks.beta]
scope = "lab"
cidr = "172.16.5.0/24"

[vms.a]
template = "tiny"
vcpus = 0
nics = [{ network = "lan", address = 200 }, { network = "mgmt", address = 5 }]

[vms.b]
template = "tiny"
nics = [{ network = "lan", address = 20 }, { network = "mgmt", address = 5 }]
)");
    EXPECT_FALSE(result.lab);
    EXPECT_ERROR_AT(result, 13, 1, "networks.mgmt.dhcp: a fenced network has no host-side address");
    EXPECT_ERROR_AT(result, 19, 11, "networks.beta.cidr 172.16.5.0/24 overlaps networks.alpha.cidr 172.16.0.0/16");
    EXPECT_ERROR_AT(result, 25, 9, "vms.a.vcpus = 0 is out of range (1 to 256)");
    EXPECT_ERROR_AT(result, 26, 38, "vms.a: address 200 does not fit network 'lan' (/24): use 2 to 127");
    EXPECT_ERROR_AT(result, 30, 74, "vms.b: address 5 on network 'mgmt' is already used by another NIC");
    EXPECT_EQ(count(result, Severity::error), 5u) << dump(result.diagnostics);
}

TEST_F(LoaderTest, LabCidrTooSmallDoesNotHideOtherAddressErrors) {
    const auto result = load(R"([lab]
name = "demo"
seats = 300
cidr = "10.210.0.0/16"

[templates.tiny]
disk = "1GiB"

[networks.lan]

[networks.alpha]
scope = "lab"
cidr = "10.210.8.0/24"

[vms.a]
template = "tiny"
nics = [{ network = "lan", address = 200 }]
[vms.b]
template = "tiny"
nics = [{ network = "lan", address = 20 }]
[vms.c]
template = "tiny"
nics = [{ network = "lan", address = 20 }]
)");
    EXPECT_ERROR_AT(result, 4, 8, "lab.cidr: 10.210.0.0/16 holds 65536 addresses but 300 seats need at least 76800");
    EXPECT_ERROR_AT(result, 11, 11, "networks.alpha.cidr 10.210.8.0/24 overlaps lab.cidr 10.210.0.0/16");
    EXPECT_ERROR_AT(result, 17, 38, "vms.a: address 200 does not fit network 'lan'");
    EXPECT_ERROR_AT(result, 23, 38, "vms.c: address 20 on network 'lan' is already used by another NIC");
    EXPECT_EQ(count(result, Severity::error), 4u) << dump(result.diagnostics);
}

TEST_F(LoaderTest, AddressChecksSkipWhatAWrongValueLeavesUnknown) {
    // The prefix of lan is wrong, so whether 200 fits is unknown; a cidr that is not a network
    // is not "required" on top of that.
    const auto result = load(R"([lab]
name = "demo"
cidr = "10.210.0.0/33"

[templates.tiny]
disk = "1GiB"

[networks.lan]
prefix = 40

[networks.small]
prefix = 29

[vms.a]
template = "tiny"
nics = [{ network = "lan", address = 200 }, { network = "small", address = 0 }]
[vms.b]
template = "tiny"
nics = [{ network = "small", address = 2 }, { network = "small", address = 3 }, { network = "small", address = 9 }]
)");
    EXPECT_ERROR_AT(result, 3, 8, "lab.cidr: '10.210.0.0/33' is not an IPv4 network");
    EXPECT_ERROR_AT(result, 9, 10, "networks.lan.prefix = 40 is out of range (16 to 29)");
    EXPECT_ERROR_AT(result, 16, 76, "vms.a.nics.address = 0 is out of range");
    EXPECT_ERROR_AT(result, 19, 112, "vms.b: address 9 does not fit network 'small' (/29): use 2 to 3");
    EXPECT_EQ(count(result, Severity::error), 4u) << dump(result.diagnostics);
}

TEST_F(LoaderTest, UnusedInlineTemplatesAreRangeChecked) {
    const auto result = load(R"([lab]
name = "demo"

[templates.spare]
vcpus = 0
memory = "lots"
cpu = "passthrough"

[templates.base]
vcpus = 300

[templates.tiny]
extends = "base"
disk = "1GiB"

[vms.web]
template = "tiny"
)");
    EXPECT_ERROR_AT(result, 5, 9, "template spare.vcpus = 0 is out of range (1 to 256)");
    EXPECT_ERROR_AT(result, 6, 10, "template spare.memory: 'lots' is not a size");
    EXPECT_ERROR_AT(result, 7, 7, "template spare.cpu: 'passthrough' is not one of host-model, host-passthrough, emulated "
                                  "(did you mean 'host-passthrough'?)");
    EXPECT_ERROR_AT(result, 10, 9, "template tiny.vcpus = 300 is out of range");  // once, through the template using it
    EXPECT_EQ(count(result, Severity::error), 4u) << dump(result.diagnostics);
}

// ---------------------------------------------------------------------------------------------
// Places and messages

TEST_F(LoaderTest, FormatErrorsPointAtTheValue) {
    const auto result = load(R"([lab]
name = "demo"
host = "localhost"
cidr = "10.210.0.1/16"
storage = ""

[templates.tiny]
disk = "1GiB"

[networks.shared]
scope = "lab"
cidr = "172.16.0.1/24"

[vms.web]
template = "tiny"
console_listen = "localhost"
boot = []
)");
    EXPECT_ERROR_AT(result, 3, 8, "lab.host: 'localhost' is not a libvirt URI");
    EXPECT_ERROR_AT(result, 4, 8, "lab.cidr: '10.210.0.1/16' is not an IPv4 network");
    EXPECT_ERROR_AT(result, 5, 11, "lab.storage: the storage directory must not be empty");
    EXPECT_ERROR_AT(result, 12, 8, "networks.shared.cidr: '172.16.0.1/24' is not an IPv4 network");
    EXPECT_ERROR_AT(result, 16, 18, "vms.web.console_listen: 'localhost' is not an IPv4 address");
    EXPECT_ERROR_AT(result, 17, 8, "vms.web.boot: list at least one device");
    EXPECT_EQ(count(result, Severity::error), 6u) << dump(result.diagnostics);
}

TEST_F(LoaderTest, TemplateFileThatIsADirectory) {
    fs::create_directories(dir() / "templates" / "dirt.toml");
    const auto result = load("[lab]\nname = \"demo\"\n[vms.web]\ntemplate = \"dirt\"\n");
    EXPECT_ERROR_AT(result, 4, 1, "template file " + (dir() / "templates" / "dirt.toml").string() +
                                      " is not a regular file but a directory; a template is a NAME.toml file");
    EXPECT_EQ(count(result, Severity::error), 1u) << dump(result.diagnostics);
}

TEST_F(LoaderTest, ImageOrKernelThatIsADirectory) {
    fs::create_directories(dir() / "images");
    const auto result = load(R"([lab]
name = "demo"

[templates.guest]
image = "images"

[templates.direct]
kernel = "images"
disk = "1GiB"

[vms.web]
template = "guest"
[vms.db]
template = "direct"
)");
    EXPECT_ERROR_AT(result, 5, 9, "template guest: image " + (dir() / "images").string() + " is not a regular file");
    EXPECT_ERROR_AT(result, 8, 10, "template direct: kernel " + (dir() / "images").string() + " is not a regular file");
    EXPECT_EQ(count(result, Severity::warning), 0u) << dump(result.diagnostics);
}

TEST_F(LoaderTest, ChoiceSuggestionsCoverCaseAndParts) {
    const auto result = load(R"([lab]
name = "demo"
virtualization = "KVM"

[templates.tiny]
disk = "1GiB"
cpu = "passthrough"
nic_model = "host"
firmware = "host"

[vms.web]
template = "tiny"
)");
    EXPECT_ERROR_AT(result, 3, 18, "lab.virtualization: 'KVM' is not one of auto, kvm, qemu (did you mean 'kvm'?)");
    EXPECT_ERROR_AT(result, 7, 7, "template tiny.cpu: 'passthrough' is not one of host-model, host-passthrough, emulated "
                                  "(did you mean 'host-passthrough'?)");
    // "host" is part of no NIC model or firmware: no suggestion.
    for (const auto& d : result.diagnostics)
        if (d.where.line == 8 || d.where.line == 9) {
            EXPECT_EQ(d.message.find("did you mean"), std::string::npos) << d.message;
        }
    EXPECT_EQ(count(result, Severity::error), 4u) << dump(result.diagnostics);
}

// ---------------------------------------------------------------------------------------------
// Keys nested too deeply: toml++ recurses per part and would overflow the stack

namespace {

std::string dotted_key(std::size_t parts, const std::string& part = "a", const std::string& dot = ".") {
    std::string key = part;
    for (std::size_t i = 1; i < parts; ++i) key += dot + part;
    return key;
}

// --- cloud-init guests ([login], cloud_init, hostname, user_data, login) ------------------------

constexpr const char* guest_lab_head = R"([lab]
name = "g"
seats = 2
cidr = "10.9.0.0/16"

[templates.cloud]
image = "base.qcow2"
format = "raw"
cloud_init = true

[templates.plain]
image = "base.qcow2"
format = "raw"

[networks.lan]
)";

TEST_F(LoaderTest, ReadsLoginHostnameUserDataAndLogin) {
    write("base.qcow2", "raw");
    write("web.yaml", "#cloud-config\nruncmd:\n  - echo {{seat}} {{attendee.name}} {{ip.lan}} {{vms.db.ip.lan}}\n");
    const LoadResult r = load(std::string(guest_lab_head) + R"(
[login]
user = "attendee"
password = "Fixed-Passw0rd"
ssh_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIe802PKvXXQrJsUaALxrjZGDryVhHjCZrjDOPEoNaLM presenter@laptop"]
sudo = false

[vms.web]
template = "cloud"
hostname = "web-{{seat}}"
user_data = "web.yaml"

[vms.db]
template = "cloud"
login = false
)");
    ASSERT_TRUE(r.lab) << dump(r.diagnostics);
    EXPECT_EQ(r.lab->login.user, "attendee");
    EXPECT_EQ(r.lab->login.password, "Fixed-Passw0rd");
    ASSERT_EQ(r.lab->login.ssh_keys.size(), 1u);
    EXPECT_FALSE(r.lab->login.sudo);
    const VmSpec& web = r.lab->vms[1];
    EXPECT_EQ(web.name, "web");
    EXPECT_TRUE(web.cloud_init);
    EXPECT_EQ(web.hostname, "web-{{seat}}");
    EXPECT_EQ(web.user_data_file, (dir() / "web.yaml").string());
    EXPECT_TRUE(web.login);
    EXPECT_FALSE(r.lab->vms[0].login);
    EXPECT_EQ(r.lab->vms[0].hostname, "db");
}

TEST_F(LoaderTest, LoginDefaultsToStudentWithARandomPasswordAndSudo) {
    write("base.qcow2", "raw");
    const LoadResult r = load(std::string(guest_lab_head) + "[vms.web]\ntemplate = \"cloud\"\n");
    ASSERT_TRUE(r.lab) << dump(r.diagnostics);
    EXPECT_EQ(r.lab->login.user, "student");
    EXPECT_FALSE(r.lab->login.password);
    EXPECT_TRUE(r.lab->login.sudo);
}

TEST_F(LoaderTest, ReportsEveryGuestMistakeAtOnceWithItsPlace) {
    write("base.qcow2", "raw");
    write("bad.yaml", "#cloud-config\nruncmd:\n  - echo {{seet}}\n");
    write("script.sh", "#!/bin/sh\necho hi\n");
    write("broken.yaml", "#cloud-config\nruncmd: [\n");
    write("big.yaml", "#cloud-config\n" + std::string(70000, '#'));
    const LoadResult r = load(std::string(guest_lab_head) + R"(
[login]
user = "Root"
ssh_keys = ["ssh-ed25519 AAAA", 7]
colour = "blue"

[vms.a]
template = "cloud"
hostname = "A_{{seat}}"
user_data = "missing.yaml"

[vms.b]
template = "cloud"
hostname = "b-{{attendee.name}}"
user_data = "bad.yaml"

[vms.c]
template = "plain"
user_data = "script.sh"
login = false

[vms.d]
template = "cloud"
user_data = "script.sh"

[vms.e]
template = "cloud"
user_data = "broken.yaml"

[vms.f]
template = "cloud"
user_data = "big.yaml"
)");
    const std::string lab = lab_file();
    EXPECT_FALSE(r.lab);
    EXPECT_TRUE(has_diagnostic(r, Severity::error, lab, 18, 8, "login.user: 'Root' is not a Linux user name"));
    EXPECT_TRUE(has_diagnostic(r, Severity::error, lab, 19, 13, "login.ssh_keys: the key data is not a ssh-ed25519 key"));
    EXPECT_TRUE(has_diagnostic(r, Severity::error, lab, 19, 33, "login.ssh_keys: expected a public key as a string"));
    EXPECT_TRUE(has_diagnostic(r, Severity::error, lab, 20, 1, "unknown key 'login.colour'"));
    EXPECT_TRUE(has_diagnostic(r, Severity::error, lab, 24, 13, "vms.a.hostname: 'A_1' has capital letters"));
    EXPECT_TRUE(has_diagnostic(r, Severity::error, lab, 25, 13, "does not exist (the path is relative to the lab file)"));
    EXPECT_TRUE(has_diagnostic(r, Severity::error, lab, 29, 15, "unknown hostname variable 'attendee.name'"));
    EXPECT_TRUE(has_diagnostic(r, Severity::error, (dir() / "bad.yaml").string(), 3, 10, "unknown template variable 'seet'"));
    EXPECT_TRUE(has_diagnostic(r, Severity::error, lab, 34, 1, "vms.c.user_data: template 'plain' does not run cloud-init"));
    EXPECT_TRUE(has_diagnostic(r, Severity::error, lab, 35, 1, "vms.c.login: template 'plain' does not run cloud-init"));
    EXPECT_TRUE(has_diagnostic(r, Severity::error, (dir() / "script.sh").string(), 1, 1, "the first line must be '#cloud-config'"));
    EXPECT_TRUE(has_diagnostic(r, Severity::error, (dir() / "broken.yaml").string(), 3, 1, "not valid YAML"));
    EXPECT_TRUE(has_diagnostic(r, Severity::error, lab, 47, 13, "more than the 64 KiB"));
}

TEST_F(LoaderTest, HostnamesMustDifferWithinASeat) {
    write("base.qcow2", "raw");
    const LoadResult r = load(std::string(guest_lab_head) + "[vms.a]\ntemplate = \"cloud\"\nhostname = \"x\"\n"
                                                            "[vms.b]\ntemplate = \"plain\"\nhostname = \"x\"\n");
    EXPECT_FALSE(r.lab);
    EXPECT_TRUE(has_diagnostic(r, Severity::error, lab_file(), 21, 13, "'x' is also the hostname of VM 'a' in seat 1"));
}

TEST_F(LoaderTest, CloudInitNeedsAnImageAndLoginWithoutCloudInitWarns) {
    write("base.qcow2", "raw");
    write("vmlinuz", "k");
    LoadResult r = load(R"([lab]
name = "g"
cidr = "10.9.0.0/16"
[templates.k]
kernel = "vmlinuz"
cloud_init = true
disk = "1GiB"
[networks.lan]
[vms.a]
template = "k"
)");
    EXPECT_TRUE(has_diagnostic(r, Severity::error, lab_file(), 9, 6, "has cloud_init = true but no image"));
    r = load(std::string(guest_lab_head) + "[login]\n[vms.a]\ntemplate = \"plain\"\n");
    ASSERT_TRUE(r.lab) << dump(r.diagnostics);
    EXPECT_TRUE(has_diagnostic(r, Severity::warning, lab_file(), 16, 1, "[login] has no effect"));
}

}  // namespace

TEST_F(LoaderTest, DeeplyDottedKey) {
    const auto header = load("[lab]\nname = \"d\"\n[" + dotted_key(100000) + "]\n");
    EXPECT_FALSE(header.lab);
    ASSERT_EQ(header.diagnostics.size(), 1u) << dump(header.diagnostics);
    EXPECT_ERROR_AT(header, 3, 2, "this key has more than 64 dotted parts; a lab needs a few (such as [vms.web]): shorten the key");

    EXPECT_ERROR_AT(load("[lab]\nname = \"d\"\n  " + dotted_key(50000) + " = 1\n"), 3, 3, "more than 64 dotted parts");
    EXPECT_ERROR_AT(load("[lab]\nname = \"d\"\n[[" + dotted_key(65) + "]]\n"), 3, 3, "more than 64 dotted parts");
    EXPECT_ERROR_AT(load("[lab]\nname = \"d\"\n[" + dotted_key(100, "\"q.q\"", " . ") + "]\n"), 3, 2, "more than 64 dotted parts");
    EXPECT_ERROR_AT(load("[lab]\nname = \"d\"\nx = { y = 1, " + dotted_key(100, "'b'") + " = 2 }\n"), 3, 14,
                    "more than 64 dotted parts");
}

TEST_F(LoaderTest, DeeplyDottedKeyInATemplateFile) {
    const fs::path tpl = write("templates/deep.toml", "disk = \"1GiB\"\n" + dotted_key(100000) + " = 1\n");
    const auto result = load("[lab]\nname = \"demo\"\n[vms.web]\ntemplate = \"deep\"\n");
    EXPECT_TRUE(has_diagnostic(result, Severity::error, tpl.string(), 2, 1, "more than 64 dotted parts"));
}

TEST_F(LoaderTest, DeeplyNestedArraysAndInlineTables) {
    // lab (1) + x (1) + 127 arrays: the 127th bracket, at column 4 + 127.
    EXPECT_ERROR_AT(load("[lab]\nname = \"d\"\nx = " + std::string(200, '[') + std::string(200, ']') + "\n"), 3, 131,
                    "tables, arrays and dotted keys nest more than 128 levels deep here; a lab needs a few: flatten it");
    // 60 + 60 + (1 + 60): each key within the limit, together too deep.
    const std::string key = dotted_key(60);
    EXPECT_ERROR_AT(load("[lab]\nname = \"d\"\n[" + key + "]\n" + key + " = { " + key + " = 1 }\n"), 4, 245,
                    "nest more than 128 levels deep");
}

TEST_F(LoaderTest, DotsInStringsAndCommentsAreNotKeys) {
    std::string text = R"([lab]
name = "demo"
title = """first
DOTS \""" still the title '''
DOTS"""  # DOTS
KEY = 1

[templates.tiny]
disk = "1GiB"

[vms.web]
template = "tiny"
ready_console = 'DOTS'
[vms.db]
template = "tiny"
ready_console = '''
'DOTS'"DOTS"'''
)";
    for (std::size_t at; (at = text.find("DOTS")) != std::string::npos;) text.replace(at, 4, dotted_key(200));
    text.replace(text.find("KEY"), 3, dotted_key(64));  // at the limit
    const auto result = load(text);
    ASSERT_EQ(count(result, Severity::error), 1u) << dump(result.diagnostics);
    EXPECT_ERROR_AT(result, 6, 1, "unknown key 'lab.a'");
}

// ---------------------------------------------------------------------------------------------
// Sizes

TEST(ParseSize, Units) {
    EXPECT_EQ(parse_size("512MiB"), 512ull << 20);
    EXPECT_EQ(parse_size("20GiB"), 20ull << 30);
    EXPECT_EQ(parse_size("1KiB"), 1024u);
    EXPECT_EQ(parse_size("2TiB"), 2ull << 40);
    EXPECT_EQ(parse_size("1KB"), 1000u);
    EXPECT_EQ(parse_size("100MB"), 100'000'000u);
    EXPECT_EQ(parse_size("8GB"), 8'000'000'000u);
    EXPECT_EQ(parse_size("1TB"), 1'000'000'000'000u);
    EXPECT_EQ(parse_size("4096B"), 4096u);
    EXPECT_EQ(parse_size("0MiB"), 0u);
}

TEST(ParseSize, FractionsAndSpaces) {
    EXPECT_EQ(parse_size("1.5TiB"), 3ull << 39);
    EXPECT_EQ(parse_size("0.5GiB"), 512ull << 20);
    EXPECT_EQ(parse_size("1.5KB"), 1500u);
    EXPECT_EQ(parse_size("512 MiB"), 512ull << 20);
    EXPECT_FALSE(parse_size("1.3KiB"));  // 1331.2 bytes
    EXPECT_FALSE(parse_size("1.5B"));
}

TEST(ParseSize, Refuses) {
    for (const char* text : {"", "MiB", "512", "512mib", "512 mb", "512M", "512G", "512KiB ", " 512MiB", "-1GiB", "+1GiB",
                             "1..5GiB", ".5GiB", "5.GiB", "1.2.3GiB", "1e3MiB", "0x10MiB", "1GiB2", "lots",
                             "99999999999999999999999TiB", "17000000TiB", "18446744073709551616B"})
        EXPECT_FALSE(parse_size(text)) << '"' << text << '"';
}

TEST(FormatSize, PicksTheLargestExactUnit) {
    EXPECT_EQ(format_size(0), "0B");
    EXPECT_EQ(format_size(1023), "1023B");
    EXPECT_EQ(format_size(1024), "1KiB");
    EXPECT_EQ(format_size(1536), "1536B");
    EXPECT_EQ(format_size(512ull << 20), "512MiB");
    EXPECT_EQ(format_size(1536ull << 20), "1536MiB");
    EXPECT_EQ(format_size(16ull << 20), "16MiB");
    EXPECT_EQ(format_size(4ull << 40), "4TiB");
    EXPECT_EQ(format_size(2048ull << 40), "2048TiB");  // no unit above TiB
}

TEST(FormatSize, RoundsLargeOddValues) {
    EXPECT_EQ(format_size(10240 + 1), "10.0KiB");
    EXPECT_EQ(format_size(100'000'000), "95.4MiB");
    EXPECT_EQ(format_size(1'000'000'000'000ull), "931.3GiB");
}

TEST(FormatSize, RoundTripsThroughParseSize) {
    for (std::uint64_t bytes : {1ull << 10, 3ull << 20, 7ull << 30, 5ull << 40, 1536ull << 20, 4095ull})
        EXPECT_EQ(parse_size(format_size(bytes)), bytes) << format_size(bytes);
}
