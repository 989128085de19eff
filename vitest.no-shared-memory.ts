// Setup file of the test suite's second project: the JavaScript world of a web page without
// cross-origin isolation (most pages), where SharedArrayBuffer does not exist. It runs before
// any module of a test file is imported, so the backends see what such a page would give them.
delete (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer;
