-- Headless Neovim 0.7 (no native inlay hints: it shows none itself) asks the server for them over its LSP
-- client after a dynamic run, the way a plugin would: `textDocument/inlayHint` on the whole buffer.
-- Run: LSP_PYTHON=.. LSP_FILE=encoders.py nvim --headless -u nvim_inlay_test.lua   (rc 0 = pass)
local function fail(msg) io.stderr:write("FAIL: " .. msg .. "\n"); vim.cmd("cquit 1") end
local function out(msg) io.stdout:write(msg .. "\n") end
local ok, err = pcall(function()
  local py = assert(os.getenv("LSP_PYTHON"))
  local file = assert(os.getenv("LSP_FILE"))
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  local buf = vim.api.nvim_get_current_buf()
  local client_id = vim.lsp.start_client({
    name = "tensorleap-ls", cmd = { vim.fn.fnamemodify(py, ":h") .. "/tensorleap-ls", "serve" },
    root_dir = vim.fn.fnamemodify(file, ":h:h"), init_options = { debounceMs = 0, trusted = true },
  })
  vim.lsp.buf_attach_client(buf, client_id)
  if not vim.wait(20000, function() local c = vim.lsp.get_client_by_id(client_id); return c and c.initialized end, 50) then
    return fail("the server did not start")
  end
  local client = vim.lsp.get_client_by_id(client_id)
  local uri = vim.uri_from_bufnr(buf)
  local run = client.request_sync("workspace/executeCommand", { command = "tensorleap.runChecks", arguments = { { uri = uri } } }, 120000, buf)
  if not run or run.err or not run.result or not run.result.ok then return fail("run checks: " .. vim.inspect(run)) end
  out("RUN " .. tostring(run.result.summary))
  local function hints()
    local res = client.request_sync("textDocument/inlayHint", { textDocument = { uri = uri },
      range = { start = { line = 0, character = 0 }, ["end"] = { line = vim.api.nvim_buf_line_count(buf), character = 0 } } }, 10000, buf)
    if not res or res.err then fail("inlayHint: " .. vim.inspect(res)) end
    return res.result or {}
  end
  for _, h in ipairs(hints()) do
    local line = vim.api.nvim_buf_get_lines(buf, h.position.line, h.position.line + 1, false)[1]
    out(string.format("HINT %d:%d %s | %s", h.position.line + 1, h.position.character, h.label, line))
  end
  -- an edit of the input encoder's body: its hint is stale and goes, the others stay
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  for i, l in ipairs(lines) do
    if l:find("astype%(np.float32%)") then
      vim.api.nvim_buf_set_lines(buf, i - 1, i, false, { (l:gsub("astype%(np.float32%)", "astype(np.float32) / 1")) })
      break
    end
  end
  vim.wait(300)
  out("AFTER EDIT " .. #hints())
  client.stop()
  vim.wait(2000, function() return client.is_stopped() end, 50)
end)
if not ok then fail(tostring(err)) end
out("OK")
vim.cmd("qall!")
