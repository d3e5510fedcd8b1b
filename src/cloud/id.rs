//! Identifier newtypes for Cloud Assistant resources.
//!
//! After a value crosses the API edge it travels as one of these types, never as a bare
//! `String`, so an instance id cannot be passed where an invoke id is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an identifier string as given by the user or the API.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

id_type!(
    /// An ECS instance id such as `i-bp1aaaaaaaaaaaaaaaa1`.
    InstanceId
);
id_type!(
    /// A Cloud Assistant command id such as `c-hz01q7w3e5r7t9y1`.
    CommandId
);
id_type!(
    /// A Cloud Assistant invocation (task) id such as `t-hz01m2n4b6v8c0x2`.
    InvokeId
);
id_type!(
    /// A region id such as `cn-hangzhou`.
    RegionId
);
