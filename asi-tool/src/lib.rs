//! asi-tool: apply, build, boot and test the ASI-for-containers kernel
//! patch queue. The binary (`main.rs`) is a thin command-line shell over
//! these modules, one per pipeline stage:
//!
//! source → apply (queue) → kconfig → build → vm → testvms/ktap → results
//! (and `bench` for the reports of the benchmarks; `rebase` carries the
//! queue to other kernel versions, `matrix` runs the pipeline on every
//! version × configuration of ci/matrix.toml)

pub mod apply;
pub mod bench;
pub mod build;
pub mod cache;
pub mod check;
pub mod cmd;
pub mod doctor;
pub mod error;
pub mod kconfig;
pub mod ktap;
pub mod matrix;
pub mod pipeline;
pub mod queue;
pub mod rebase;
pub mod results;
pub mod source;
pub mod testvms;
pub mod version;
pub mod vm;
