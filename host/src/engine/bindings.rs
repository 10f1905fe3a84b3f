//! Host-side bindings for the `palisade:policy/pack` world, generated from `wit/`.
//! Only the engine uses these types; the rest of the host sees `engine::*` types.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "palisade:policy/pack",
    // Parameters are borrowed, so a batch is lowered straight from the caller's documents
    // without copying them into owned strings first.
    ownership: Borrowing { duplicate_if_necessary: true },
});
