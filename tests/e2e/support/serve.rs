//! The one core of every scripted HTTP server in the tests (the scripted AWS services, the
//! ECS and ECR stand-ins, the echo registry): bind 127.0.0.1 on a free port, serve an axum
//! router on its own thread and runtime, and stop — graceful shutdown, thread joined — when
//! the [`Served`] is dropped. Each server keeps only its own routes and state.

use axum::Router;

/// A router being served on 127.0.0.1; stopped when dropped.
pub struct Served {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Served {
    /// Serve `app` on a free port of 127.0.0.1.
    pub fn start(app: Router) -> Served {
        Served::start_with(|_| app)
    }

    /// Serve the router `make` builds from the server's own URL (for servers whose answers
    /// name themselves, e.g. a blob redirect).
    pub fn start_with(make: impl FnOnce(&str) -> Router) -> Served {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = make(&url);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(l, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Served {
            url,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
