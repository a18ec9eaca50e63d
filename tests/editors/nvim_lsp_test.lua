-- Headless Neovim (0.7, Debian) as a second real LSP client of tensorleap-ls.
-- Run: LSP_PYTHON=.. LSP_FILE=x.py nvim --headless -u nvim_lsp_test.lua   (rc 0 = pass)
local function fail(msg) io.stderr:write("FAIL: " .. msg .. "\n"); vim.cmd("cquit 1") end
local function out(msg) io.stdout:write(msg .. "\n") end
local ok, err = pcall(function()
  local py = assert(os.getenv("LSP_PYTHON"))
  local file = assert(os.getenv("LSP_FILE"))
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  local buf = vim.api.nvim_get_current_buf()
  local client_id = vim.lsp.start_client({
    -- the console script, not `python -m` (which would put the working directory on sys.path first)
    name = "tensorleap-ls", cmd = { vim.fn.fnamemodify(py, ":h") .. "/tensorleap-ls", "serve" },
    root_dir = vim.fn.fnamemodify(file, ":h:h"), init_options = { debounceMs = 0 },
  })
  vim.lsp.buf_attach_client(buf, client_id)
  if not vim.wait(20000, function() return #vim.diagnostic.get(buf) > 0 end, 50) then
    return fail("no diagnostics within 20s")
  end
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    out(string.format("DIAG %d:%d %s %s [%s]", d.lnum + 1, d.col + 1, d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code) or "", d.message, d.source or ""))
  end
  local client = vim.lsp.get_client_by_id(client_id)
  local d = vim.diagnostic.get(buf)[1]
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    range = { start = { line = d.lnum, character = d.col }, ["end"] = { line = d.end_lnum, character = d.end_col } },
    context = { diagnostics = vim.lsp.diagnostic.get_line_diagnostics(buf, d.lnum) },
  }
  local res = client.request_sync("textDocument/codeAction", params, 10000, buf)
  if not res or res.err or not res.result or #res.result == 0 then return fail("no code action") end
  out("ACTION " .. res.result[1].title)
  vim.lsp.util.apply_workspace_edit(res.result[1].edit, client.offset_encoding)
  if not vim.wait(10000, function() return #vim.diagnostic.get(buf) == 0 end, 50) then
    return fail("diagnostic not cleared after the fix")
  end
  out("DIAGS AFTER FIX: 0")
  client.stop()
  vim.wait(2000, function() return client.is_stopped() end, 50)
end)
if not ok then fail(tostring(err)) end
out("OK")
vim.cmd("qall!")
