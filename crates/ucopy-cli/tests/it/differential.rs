//! Differential test: a generated mixed tree copied by each backend equals both the source and
//! the `std` executor's copy, under default and unusual batching settings.

use crate::compare::{assert_trees_equal, Compare};
use crate::fixtures::mixed_tree;
use crate::harness::Backend;
use crate::tree::TestTree;

/// Batching variants: defaults, one file in flight, odd batch size on one thread, no sort.
const VARIANTS: [&[&str]; 3] = [
    &[],
    &["--queue-depth", "1"],
    &["--queue-depth", "3", "--threads", "1", "--order", "none"],
];

backend_test!(differential_mixed_tree, |b| {
    let t = TestTree::in_shm();
    let src = mixed_tree(&t, "src", 0xD1FF);
    let reference = t.p("by_std");
    Backend::Std
        .run(args!["-a", src, reference])
        .assert_success();
    assert_trees_equal(&src, &reference, &Compare::archive());
    for (i, extra) in VARIANTS.iter().enumerate() {
        let dst = t.p(format!("by_{b}_{i}"));
        let mut a = args!["-a", "--json"];
        a.extend(extra.iter().map(Into::into));
        a.extend(args![src, dst]);
        let out = b.run(a);
        out.assert_success();
        assert_eq!(
            out.json()["backend"],
            b.name(),
            "{extra:?}: another backend ran"
        );
        assert_trees_equal(&reference, &dst, &Compare::archive());
        assert_trees_equal(&src, &dst, &Compare::archive());
        let plain = t.p(format!("plain_by_{b}_{i}"));
        let mut a: Vec<std::ffi::OsString> = extra.iter().map(Into::into).collect();
        a.extend(args![src, plain]);
        b.run(a).assert_success();
        assert_trees_equal(&src, &plain, &Compare::plain());
    }
});
