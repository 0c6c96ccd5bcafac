//! The load benchmark's baseline: the smallest poem server, so `scripts/bench-api.sh` can say
//! how STACK's endpoints compare with what poem and hyper cost on their own, in the same run.
//!
//! ```text
//! cargo run --release -p stack-examples --example hello_world -- 127.0.0.1:3001
//! ```

use poem::listener::TcpListener;
use poem::{Route, Server, get, handler};

#[handler]
fn hello() -> &'static str {
    "hello, world"
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3001".into());
    Server::new(TcpListener::bind(addr))
        .run(Route::new().at("/", get(hello)))
        .await
}
