//! The data providers, and the one place they are registered.
//!
//! A provider is a folder that implements [`Provider`]: its settings (read
//! from the environment), its task type (parsing and validation), the HTTP
//! route it contributes (`GET /v1/{ROUTE}/{name}`), its client, decoding,
//! columns and paging. Everything else — the handler, configuration, routing,
//! responses — reaches providers only through the items the [`register!`]
//! line below generates: the [`Task`] enum (tagged on `provider`),
//! [`ProviderSettings`] and [`Providers`]. Adding a provider is a new folder
//! plus one line in `register!`.
//!
//! Why a trait plus a generated enum rather than `dyn Provider`: tasks are
//! typed per provider and `fetch` is generic over the secret source, so
//! static dispatch keeps both without boxing; the macro writes the one match
//! each operation needs, so no other module names a provider.

use std::future::Future;

use serde::de::DeserializeOwned;

use crate::config::Env;
use crate::context::{CallerClass, Ctx};
use crate::error::AppError;
use crate::output::ObjectWriter;
use crate::output::key::Placeholder;
use crate::response::FetchResult;
use crate::secrets::SecretSource;
use crate::table::Table;

/// What the function gives every provider at start-up.
#[derive(Clone, Debug)]
pub(crate) struct Shared {
    /// The one HTTP client (rustls, no cross-origin redirects).
    pub(crate) http: reqwest::Client,
    /// The largest upstream body one request may bring in.
    pub(crate) body_cap: usize,
    /// The function's memory, MB.
    pub(crate) memory_mb: u64,
}

/// A data provider.
pub(crate) trait Provider: Sized {
    /// The `provider` tag of its tasks (`alpha_vantage`).
    const NAME: &'static str;
    /// Its HTTP route segment: `GET /v1/{ROUTE}/{name}`.
    const ROUTE: &'static str;
    /// What the route's `{name}` segment is, for messages (`function`).
    const ROUTE_PARAM: &'static str;
    /// Its settings, read from the environment.
    type Settings: Clone + std::fmt::Debug;
    /// Its task, as a task document carries it (without `provider`).
    type Task: DeserializeOwned + std::fmt::Debug;

    /// Read and check its settings.
    fn settings(env: &Env<'_>) -> Result<Self::Settings, AppError>;

    /// Build it, once per cold start.
    fn new(settings: &Self::Settings, shared: &Shared) -> Result<Self, AppError>;

    /// The task `GET /v1/{ROUTE}/{name}?{query}` asks for.
    fn task_from_route(name: &str, query: &[(String, String)]) -> Result<Self::Task, AppError>;

    /// Run `task`.
    fn fetch<S: SecretSource>(
        &self,
        task: &Self::Task,
        ctx: &Ctx<'_, S>,
    ) -> impl Future<Output = Result<FetchResult, AppError>>;

    /// Check `task` for `caller` without calling anything (the output stage
    /// checks a task before it looks for its object).
    fn check(&self, _task: &Self::Task, _caller: CallerClass) -> Result<(), AppError> {
        Ok(())
    }

    /// The value `task` gives an output key's `placeholder` (`{function}`,
    /// `{symbol}`, `{query}`), if it has one.
    fn placeholder(_task: &Self::Task, _placeholder: Placeholder) -> Option<String> {
        None
    }

    /// Run `task` and write every row into `sink` (begun here), returning
    /// the result without its rows. By default the result is fetched whole
    /// and written at once; a provider that pages (Snowflake) streams every
    /// page into the sink instead, never holding the whole result.
    fn write<S: SecretSource>(
        &self,
        task: &Self::Task,
        ctx: &Ctx<'_, S>,
        sink: &mut ObjectWriter<'_>,
    ) -> impl Future<Output = Result<FetchResult, AppError>> {
        async move {
            let mut result = self.fetch(task, ctx).await?;
            sink.begin(&result.columns, result.row_count as u64)?;
            sink.write(&result.rows).await?;
            result.rows = Table::new(Vec::new());
            Ok(result)
        }
    }
}

/// An HTTP route a provider contributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    /// The path segment after `/v1/`.
    pub(crate) segment: &'static str,
    /// The name of the segment after it.
    pub(crate) param: &'static str,
}

macro_rules! register {
    ($($module:ident :: $ty:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// A task for one of the providers, tagged on `provider` (the
        /// provider's `NAME`, which is its variant in snake case).
        #[derive(Debug, serde::Deserialize)]
        #[serde(tag = "provider", rename_all = "snake_case")]
        pub(crate) enum Task {
            $(
                #[doc = concat!("A task for [`", stringify!($module), "`].")]
                $ty(<$module::$ty as Provider>::Task),
            )+
        }

        impl Task {
            /// The provider's name, as in the `provider` field.
            pub(crate) fn provider(&self) -> &'static str {
                match self {
                    $(Task::$ty(_) => <$module::$ty as Provider>::NAME,)+
                }
            }

            /// The value of an output key's `placeholder` for this task.
            pub(crate) fn placeholder(&self, placeholder: Placeholder) -> Option<String> {
                match (placeholder, self) {
                    (Placeholder::Provider, _) => Some(self.provider().to_owned()),
                    $((_, Task::$ty(t)) => <$module::$ty as Provider>::placeholder(t, placeholder),)+
                }
            }
        }

        /// Every provider's settings.
        #[derive(Clone, Debug)]
        #[allow(non_snake_case)]
        pub(crate) struct ProviderSettings {
            $(
                #[doc = concat!("[`", stringify!($module), "`]'s settings.")]
                pub $module: <$module::$ty as Provider>::Settings,
            )+
        }

        impl ProviderSettings {
            /// Read every provider's settings.
            pub(crate) fn from_env(env: &Env<'_>) -> Result<Self, AppError> {
                Ok(ProviderSettings {
                    $($module: <$module::$ty as Provider>::settings(env)?,)+
                })
            }
        }

        /// Every provider, built once per cold start.
        pub(crate) struct Providers {
            $($module: $module::$ty,)+
        }

        impl Providers {
            /// Build every provider from its settings.
            pub(crate) fn new(settings: &ProviderSettings, shared: &Shared) -> Result<Self, AppError> {
                Ok(Providers {
                    $($module: <$module::$ty as Provider>::new(&settings.$module, shared)?,)+
                })
            }

            /// The routes providers contribute, in registration order.
            pub(crate) fn routes() -> Vec<Route> {
                vec![$(Route {
                    segment: <$module::$ty as Provider>::ROUTE,
                    param: <$module::$ty as Provider>::ROUTE_PARAM,
                },)+]
            }

            /// The task `GET /v1/{segment}/{name}` asks for, if a provider
            /// owns `segment`.
            pub(crate) fn route(
                segment: &str,
                name: &str,
                query: &[(String, String)],
            ) -> Option<Result<Task, AppError>> {
                $(
                    if segment == <$module::$ty as Provider>::ROUTE {
                        return Some(<$module::$ty as Provider>::task_from_route(name, query).map(Task::$ty));
                    }
                )+
                None
            }

            /// Run `task` with the provider it is for.
            pub(crate) async fn fetch<S: SecretSource>(
                &self,
                task: &Task,
                ctx: &Ctx<'_, S>,
            ) -> Result<FetchResult, AppError> {
                match task {
                    $(Task::$ty(t) => self.$module.fetch(t, ctx).await,)+
                }
            }

            /// Check `task` for `caller` without calling anything.
            pub(crate) fn check(&self, task: &Task, caller: CallerClass) -> Result<(), AppError> {
                match task {
                    $(Task::$ty(t) => self.$module.check(t, caller),)+
                }
            }

            /// Run `task` with the provider it is for, writing its rows into `sink`.
            pub(crate) async fn write<S: SecretSource>(
                &self,
                task: &Task,
                ctx: &Ctx<'_, S>,
                sink: &mut ObjectWriter<'_>,
            ) -> Result<FetchResult, AppError> {
                match task {
                    $(Task::$ty(t) => self.$module.write(t, ctx, sink).await,)+
                }
            }
        }
    };
}

register! {
    alpha_vantage::AlphaVantage,
    snowflake::Snowflake,
}

impl Task {
    /// Parse a task document; the error says what is wrong with it.
    pub(crate) fn parse(value: serde_json::Value) -> Result<Self, AppError> {
        if !value.is_object() {
            return Err(AppError::bad_request("a task must be a JSON object"));
        }
        serde_json::from_value(value).map_err(|e| {
            AppError::bad_request(format!(
                "invalid task: {}",
                crate::error::preview(&e.to_string())
            ))
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// Query-string pairs, as routes receive them.
    pub(crate) fn query_pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_by_provider() {
        let t = Task::parse(
            json!({"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbol": "IBM"}),
        )
        .unwrap();
        assert_eq!(t.provider(), "alpha_vantage");
        let t = Task::parse(json!({"provider": "snowflake", "query": "q", "params": {"a": 1}}))
            .unwrap();
        assert_eq!(t.provider(), "snowflake");
    }

    #[test]
    fn errors_name_the_problem() {
        let msg = |v| Task::parse(v).unwrap_err().message().to_owned();
        assert!(msg(json!({"function": "GLOBAL_QUOTE"})).contains("provider"));
        assert!(msg(json!({"provider": "bloomberg"})).contains("alpha_vantage"));
        assert!(msg(json!({"provider": "bloomberg"})).contains("snowflake"));
        assert!(
            msg(json!({"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbl": "IBM"}))
                .contains("symbl")
        );
        assert!(msg(json!([1])).contains("object"));
    }

    #[test]
    fn every_provider_has_a_distinct_name_and_route() {
        let routes = Providers::routes();
        let mut segments: Vec<&str> = routes.iter().map(|r| r.segment).collect();
        segments.sort_unstable();
        segments.dedup();
        assert_eq!(segments.len(), routes.len());
        assert_eq!(
            routes,
            [
                Route {
                    segment: "alpha-vantage",
                    param: "function"
                },
                Route {
                    segment: "snowflake",
                    param: "query"
                }
            ]
        );
    }
}
