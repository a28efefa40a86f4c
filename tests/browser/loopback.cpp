#include "loopback.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <thread>

namespace vmlab_browser {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

unsigned short free_loopback_port() {
    net::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    return acceptor.local_endpoint().port();
}

bool wait_for_port(unsigned short port, std::chrono::milliseconds timeout, const std::function<bool()>& still_starting) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    net::io_context io;
    for (;;) {
        tcp::socket socket(io);
        boost::system::error_code ec;
        socket.connect(tcp::endpoint(net::ip::address_v4::loopback(), port), ec);
        if (!ec) return true;
        if (!still_starting() || std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

namespace {

using Pages = std::map<std::string, StaticHttpServer::Page>;

// One connection: read a request, answer it, again while the client keeps the connection.
class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(tcp::socket socket, const Pages& pages) : m_stream(std::move(socket)), m_pages(pages) {}

    void read() {
        m_request = {};
        http::async_read(m_stream, m_buffer, m_request, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (!ec) self->answer();
        });
    }

private:
    void answer() {
        const std::string path(m_request.target().substr(0, m_request.target().find('?')));
        const auto page = m_pages.find(path);
        m_response = {page == m_pages.end() ? http::status::not_found : http::status::ok, m_request.version()};
        m_response.set(http::field::content_type, page == m_pages.end() ? "text/plain" : page->second.content_type);
        m_response.set(http::field::cache_control, "no-store");
        m_response.body() = page == m_pages.end() ? "not found\n" : page->second.body;
        m_response.keep_alive(m_request.keep_alive());
        m_response.prepare_payload();
        http::async_write(m_stream, m_response, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (!ec && self->m_response.keep_alive()) self->read();
        });
    }

    beast::tcp_stream m_stream;
    beast::flat_buffer m_buffer;
    http::request<http::string_body> m_request;
    http::response<http::string_body> m_response;
    const Pages& m_pages;
};

}  // namespace

struct StaticHttpServer::Impl {
    explicit Impl(Pages served) : pages(std::move(served)) {
        accept();
        thread = std::thread([this] { io.run(); });
    }
    ~Impl() {
        io.stop();
        thread.join();
    }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    void accept() {
        acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
            if (ec) return;
            std::make_shared<Connection>(std::move(socket), pages)->read();
            accept();
        });
    }

    Pages pages;  // outlives io, whose pending handlers hold the connections that refer to it
    net::io_context io;
    tcp::acceptor acceptor{io, tcp::endpoint(net::ip::address_v4::loopback(), 0)};
    std::thread thread;
};

StaticHttpServer::StaticHttpServer(std::map<std::string, Page> pages) : m_impl(std::make_unique<Impl>(std::move(pages))) {}

StaticHttpServer::~StaticHttpServer() = default;

unsigned short StaticHttpServer::port() const { return m_impl->acceptor.local_endpoint().port(); }

std::string StaticHttpServer::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
}

}  // namespace vmlab_browser
