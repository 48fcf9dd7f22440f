//! The nginx reference for the load test (`cargo xtask bench --nginx`): nginx as a plain
//! reverse proxy in front of the same mock, on the router's core, measured the same way.
//!
//! It answers "what does a proxy cost on this machine?": a router's CPU per request is only
//! comparable across machines next to the cost of the simplest proxy on the same kernel and
//! loopback. nginx runs one process (`master_process off`, so the pid we spawn is the one that
//! serves), keeps upstream connections alive, streams without buffering, sets the provider's
//! `Authorization` like the router does, and writes a buffered access log (its counterpart of
//! the router's generation records).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::cmd::{self, Children};

/// Starts nginx on `core`, listening on `listen` and proxying to `mock`; returns its pid.
pub(super) fn start(
    children: &mut Children,
    work: &Path,
    core: &str,
    listen: SocketAddr,
    mock: SocketAddr,
) -> anyhow::Result<u32> {
    if !cmd::on_path("nginx") && !Path::new(NGINX).is_file() {
        cmd::apt_install("nginx", "the nginx reference runs nginx")?;
    }
    let program = if cmd::on_path("nginx") {
        "nginx"
    } else {
        NGINX
    };
    let dir = work.join("nginx");
    std::fs::create_dir_all(&dir)?;
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config(&dir, listen, mock))?;
    let child = children.spawn(
        "nginx",
        Command::new("taskset")
            .args(["-c", core, program, "-e"])
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null()),
    )?;
    Ok(child.id())
}

/// Where Debian installs nginx (not on a non-root `PATH`).
const NGINX: &str = "/usr/sbin/nginx";

/// The nginx config: one process, a keep-alive upstream pool, no buffering.
fn config(dir: &Path, listen: SocketAddr, mock: SocketAddr) -> String {
    let dir = dir.display();
    format!(
        r#"# Written by `cargo xtask bench --nginx`: nginx as a reverse proxy in front of router-mock.
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log {dir}/access.log combined buffer=64k;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream mock {{
        server {mock};
        keepalive 512;
    }}
    server {{
        listen {listen};
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "Bearer sk-mock-bench";
            proxy_buffering off;
        }}
    }}
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_proxies_to_the_mock_with_keep_alive_and_no_buffering() {
        let conf = config(
            Path::new("/tmp/x"),
            "127.0.0.1:4000".parse().unwrap(),
            "127.0.0.1:5000".parse().unwrap(),
        );
        assert!(conf.contains("listen 127.0.0.1:4000;"), "{conf}");
        assert!(conf.contains("server 127.0.0.1:5000;"), "{conf}");
        assert!(conf.contains("keepalive 512;"), "{conf}");
        assert!(conf.contains("proxy_buffering off;"), "{conf}");
        assert!(conf.contains("master_process off;"), "{conf}");
        assert!(conf.contains("access_log /tmp/x/access.log"), "{conf}");
    }
}
