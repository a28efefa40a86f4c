#include "vmlab/guest/seed.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "vmlab/util/process.hpp"

namespace vmlab {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::vector<GuestNic> two_nics() {
    GuestNic leased;
    leased.mac = "52:aa:bb:00:01:01";
    GuestNic fixed;
    fixed.mac = "52:aa:bb:00:01:02";
    fixed.dhcp = false;
    fixed.address = parse_ipv4("172.16.5.10");
    fixed.gateway = parse_ipv4("172.16.5.1");
    fixed.dns = {*parse_ipv4("172.16.5.1"), *parse_ipv4("172.16.5.2")};
    return {leased, fixed};
}

SeedInput web() {
    return SeedInput{.domain = "demo-s01-web", .hostname = "web", .user_data = "#cloud-config\nhostname: web\n", .nics = two_nics()};
}

TEST(NetworkConfig, MatchesEachNicByMacAndNamesThemInOrder) {
    const YAML::Node config = YAML::Load(network_config(two_nics()));
    EXPECT_EQ(config["version"].as<int>(), 2);
    const YAML::Node eth0 = config["ethernets"]["eth0"];
    EXPECT_EQ(eth0["match"]["macaddress"].as<std::string>(), "52:aa:bb:00:01:01");
    EXPECT_EQ(eth0["set-name"].as<std::string>(), "eth0");
    EXPECT_TRUE(eth0["dhcp4"].as<bool>());
    EXPECT_FALSE(eth0["addresses"]);
    const YAML::Node eth1 = config["ethernets"]["eth1"];
    EXPECT_EQ(eth1["match"]["macaddress"].as<std::string>(), "52:aa:bb:00:01:02");
    EXPECT_FALSE(eth1["dhcp4"].as<bool>());
    ASSERT_EQ(eth1["addresses"].size(), 1u);
    EXPECT_EQ(eth1["addresses"][0].as<std::string>(), "172.16.5.10/24");
    EXPECT_EQ(eth1["routes"][0]["to"].as<std::string>(), "0.0.0.0/0");
    EXPECT_EQ(eth1["routes"][0]["via"].as<std::string>(), "172.16.5.1");
    EXPECT_EQ(eth1["nameservers"]["addresses"][1].as<std::string>(), "172.16.5.2");
}

TEST(NetworkConfig, AStaticNicWithoutGatewayHasNoRoute) {
    std::vector<GuestNic> nics = two_nics();
    nics[1].gateway.reset();
    nics[1].dns.clear();
    const YAML::Node eth1 = YAML::Load(network_config(nics))["ethernets"]["eth1"];
    EXPECT_FALSE(eth1["routes"]);
    EXPECT_FALSE(eth1["nameservers"]);
}

TEST(NetworkConfig, IsEmptyWithoutNics) { EXPECT_EQ(network_config({}), ""); }

TEST(MakeSeed, MetaDataNamesTheInstanceAndHost) {
    const NoCloudSeed seed = make_seed(web());
    EXPECT_EQ(seed.instance_id.rfind("demo-s01-web-", 0), 0u);
    EXPECT_EQ(seed.instance_id.size(), std::string("demo-s01-web-").size() + 16);
    const YAML::Node meta = YAML::Load(seed.meta_data);
    EXPECT_EQ(meta["instance-id"].as<std::string>(), seed.instance_id);
    EXPECT_EQ(meta["local-hostname"].as<std::string>(), "web");
    EXPECT_EQ(seed.user_data, web().user_data);
    EXPECT_EQ(seed.network_config, network_config(two_nics()));
}

TEST(MakeSeed, TheInstanceIdIsStableAndChangesWithTheConfiguration) {
    const std::string id = make_seed(web()).instance_id;
    EXPECT_EQ(make_seed(web()).instance_id, id);
    SeedInput changed = web();
    changed.user_data += "packages: [nginx]\n";
    EXPECT_NE(make_seed(changed).instance_id, id);
    changed = web();
    changed.hostname = "www";
    EXPECT_NE(make_seed(changed).instance_id, id);
    changed = web();
    changed.nics[1].address = parse_ipv4("172.16.5.11");
    EXPECT_NE(make_seed(changed).instance_id, id);
}

class SeedIsoTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "vmlab-seed-test-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        m_dir = pattern;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }
    const fs::path& dir() const { return m_dir; }

    static std::string slurp(const fs::path& path) {
        std::ifstream in(path, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

private:
    fs::path m_dir;
};

TEST_F(SeedIsoTest, TheImageIsLabelledCidataAndHoldsTheThreeFiles) {
    const NoCloudSeed seed = make_seed(web());
    const std::string image = seed_iso_image(seed);
    ASSERT_GT(image.size(), 32u * 1024);
    const fs::path iso = dir() / "seed.iso";
    std::ofstream(iso, std::ios::binary) << image;

    // Read it back with xorriso, as another program would: the volume label, then every file.
    const ProcessResult info = run_process({"xorriso", "-indev", iso.string(), "-pvd_info"}, 30s);
    ASSERT_EQ(info.exit_code, 0) << info.err;
    EXPECT_NE(info.out.find("Volume Id    : cidata"), std::string::npos) << info.out;
    const ProcessResult extract =
        run_process({"xorriso", "-osirrox", "on", "-indev", iso.string(), "-extract", "/", (dir() / "out").string()}, 30s);
    ASSERT_EQ(extract.exit_code, 0) << extract.err;
    EXPECT_EQ(slurp(dir() / "out" / "meta-data"), seed.meta_data);
    EXPECT_EQ(slurp(dir() / "out" / "user-data"), seed.user_data);
    EXPECT_EQ(slurp(dir() / "out" / "network-config"), seed.network_config);
    std::size_t files = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir() / "out")) ++files;
    EXPECT_EQ(files, 3u);
}

TEST_F(SeedIsoTest, WithoutNicsThereIsNoNetworkConfigFile) {
    SeedInput input = web();
    input.nics.clear();
    const fs::path iso = dir() / "seed.iso";
    std::ofstream(iso, std::ios::binary) << seed_iso_image(make_seed(input));
    const ProcessResult ls = run_process({"xorriso", "-indev", iso.string(), "-ls", "/"}, 30s);
    ASSERT_EQ(ls.exit_code, 0) << ls.err;
    EXPECT_NE(ls.out.find("'meta-data'"), std::string::npos) << ls.out;
    EXPECT_NE(ls.out.find("'user-data'"), std::string::npos);
    EXPECT_EQ(ls.out.find("network-config"), std::string::npos);
}

TEST_F(SeedIsoTest, LeavesNoTemporaryFilesBehind) {
    // A temporary directory of this test's own: other tests running in parallel make seeds too.
    std::string private_tmp = (fs::temp_directory_path() / "vmlab-seed-test-tmp-XXXXXX").string();
    ASSERT_NE(::mkdtemp(private_tmp.data()), nullptr);
    const char* previous = ::getenv("TMPDIR");
    const std::string saved = previous ? previous : "";
    ::setenv("TMPDIR", private_tmp.c_str(), 1);
    std::string image;
    try {
        image = seed_iso_image(make_seed(web()));
    } catch (...) {
        previous ? ::setenv("TMPDIR", saved.c_str(), 1) : ::unsetenv("TMPDIR");
        fs::remove_all(private_tmp);
        throw;
    }
    previous ? ::setenv("TMPDIR", saved.c_str(), 1) : ::unsetenv("TMPDIR");
    EXPECT_FALSE(image.empty());
    EXPECT_TRUE(fs::is_empty(private_tmp)) << "left in " << private_tmp;
    fs::remove_all(private_tmp);
}

}  // namespace
}  // namespace vmlab
