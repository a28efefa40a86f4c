#include "vmlab/guest/cloud_config.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace vmlab {
namespace {

const std::string key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc0bU9Vn1jDqTlcFhNmlc1XMI10cnRZiwD0LbTKh8Vy presenter@laptop";

GuestIdentity web() {
    return GuestIdentity{
        .hostname = "web",
        .domain = "s01.demo.vmlab",
        .login = LoginAccount{.user = "student", .password_hash = "$6$salt$hash", .ssh_keys = {key}, .sudo = true},
        .ready_token = "demo-s01-web-0123456789abcdef",
    };
}

TEST(VmlabCloudConfig, IsACloudConfigWithTheGuestsNameAndAccount) {
    const std::string text = vmlab_cloud_config(web());
    ASSERT_EQ(text.rfind("#cloud-config\n", 0), 0u);
    const YAML::Node config = YAML::Load(text);
    EXPECT_EQ(config["hostname"].as<std::string>(), "web");
    EXPECT_EQ(config["fqdn"].as<std::string>(), "web.s01.demo.vmlab");
    EXPECT_FALSE(config["prefer_fqdn_over_hostname"].as<bool>());
    EXPECT_TRUE(config["manage_etc_hosts"].as<bool>());
    EXPECT_TRUE(config["ssh_pwauth"].as<bool>());
    ASSERT_TRUE(config["users"].IsSequence());
    ASSERT_EQ(config["users"].size(), 1u);
    const YAML::Node user = config["users"][0];
    EXPECT_EQ(user["name"].as<std::string>(), "student");
    EXPECT_EQ(user["passwd"].as<std::string>(), "$6$salt$hash");
    EXPECT_FALSE(user["lock_passwd"].as<bool>());
    EXPECT_EQ(user["sudo"].as<std::string>(), "ALL=(ALL) NOPASSWD:ALL");
    EXPECT_EQ(user["shell"].as<std::string>(), "/bin/bash");
    ASSERT_EQ(user["ssh_authorized_keys"].size(), 1u);
    EXPECT_EQ(user["ssh_authorized_keys"][0].as<std::string>(), key);
    EXPECT_FALSE(config["chpasswd"]["expire"].as<bool>());
    EXPECT_EQ(config["final_message"].as<std::string>(), "vmlab-ready demo-s01-web-0123456789abcdef after $UPTIME s");
}

TEST(VmlabCloudConfig, WithoutLoginHasNoAccountAndNoPasswordLogins) {
    GuestIdentity identity = web();
    identity.login.reset();
    identity.domain.clear();
    const YAML::Node config = YAML::Load(vmlab_cloud_config(identity));
    EXPECT_FALSE(config["users"]);
    EXPECT_FALSE(config["ssh_pwauth"]);
    EXPECT_EQ(config["fqdn"].as<std::string>(), "web");
    EXPECT_TRUE(config["final_message"]);
}

TEST(VmlabCloudConfig, WithoutSudoOrKeysLeavesThemOut) {
    GuestIdentity identity = web();
    identity.login->sudo = false;
    identity.login->ssh_keys.clear();
    const YAML::Node user = YAML::Load(vmlab_cloud_config(identity))["users"][0];
    EXPECT_FALSE(user["sudo"]);
    EXPECT_FALSE(user["ssh_authorized_keys"]);
}

TEST(VmlabCloudConfig, QuotesEveryValue) {
    GuestIdentity identity = web();
    identity.login->user = "yes";           // YAML 1.1 would read a bare yes as true
    identity.login->password_hash = "a: b # c\n'\"";
    const YAML::Node user = YAML::Load(vmlab_cloud_config(identity))["users"][0];
    EXPECT_EQ(user["name"].as<std::string>(), "yes");
    EXPECT_EQ(user["passwd"].as<std::string>(), "a: b # c\n'\"");
}

TEST(ReadyMarker, IsWhatTheFinalMessageStartsWith) {
    EXPECT_EQ(ready_marker("abc"), "vmlab-ready abc");
}

TEST(MergeUserData, WithoutThePresentersPartIsVmlabsAlone) {
    EXPECT_EQ(merge_user_data("#cloud-config\nhostname: web\n", std::nullopt), "#cloud-config\nhostname: web\n");
}

TEST(MergeUserData, IsAMultipartWithVmlabsPartFirstAndTheMergeTypeOnThePresenters) {
    const std::string ours = "#cloud-config\nhostname: web\n";
    const std::string theirs = "#cloud-config\npackages: [nginx]";
    const std::string mime = merge_user_data(ours, theirs);
    const auto header_end = mime.find("\n\n");
    const std::string header = mime.substr(0, header_end);
    const std::string boundary_key = "boundary=\"";
    const auto b = header.find(boundary_key);
    ASSERT_NE(b, std::string::npos) << header;
    EXPECT_EQ(header.rfind("Content-Type: multipart/mixed; ", 0), 0u);
    EXPECT_NE(header.find("MIME-Version: 1.0"), std::string::npos);
    const std::string boundary = header.substr(b + boundary_key.size(), header.find('"', b + boundary_key.size()) - b - boundary_key.size());
    const std::string sep = "--" + boundary + "\n";
    const auto first = mime.find(sep);
    const auto second = mime.find(sep, first + 1);
    const auto last = mime.find("--" + boundary + "--\n");
    ASSERT_NE(first, std::string::npos);
    ASSERT_NE(second, std::string::npos);
    ASSERT_NE(last, std::string::npos);
    EXPECT_EQ(last + boundary.size() + 5, mime.size());
    const std::string part1 = mime.substr(first + sep.size(), second - first - sep.size());
    const std::string part2 = mime.substr(second + sep.size(), last - second - sep.size());
    EXPECT_NE(part1.find("Content-Type: text/cloud-config"), std::string::npos);
    EXPECT_EQ(part1.find("Merge-Type"), std::string::npos);
    EXPECT_EQ(part1.substr(part1.find("\n\n") + 2), ours);
    EXPECT_NE(part2.find("Content-Type: text/cloud-config"), std::string::npos);
    EXPECT_NE(part2.find("Merge-Type: list(append)+dict(recurse_array)+str()\n"), std::string::npos);
    EXPECT_EQ(part2.substr(part2.find("\n\n") + 2), theirs + "\n");
}

}  // namespace
}  // namespace vmlab
