-- Argo CD health of modelops.io objects (Dataset, TrainingRun, ModelDeployment), the way kstatus
-- reads them: the generation and the Ready and Stalled conditions only, never sub-conditions.
--   generation not yet observed by the operator    -> Progressing
--   Stalled=True (terminal, needs a person)        -> Degraded
--   Ready=True                                     -> Healthy
--   anything else (work in flight, no status yet)  -> Progressing
-- A condition written for an older generation says nothing about this one.
-- Argo CD's sandbox opens no string library: only the .. operator is used on strings.
local health = {status = "Progressing", message = "Waiting for the operator to reconcile"}
local status = obj.status
if status == nil or status.observedGeneration == nil then
  return health
end
local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= generation then
  health.message = "Waiting for the operator to observe generation " .. generation
  return health
end

local function current(condition)
  return condition ~= nil and (generation == nil or condition.observedGeneration == nil
    or condition.observedGeneration == generation)
end

local function describe(condition)
  if condition.message ~= nil and condition.message ~= "" then
    return condition.reason .. ": " .. condition.message
  end
  return condition.reason
end

local ready = nil
local stalled = nil
for _, condition in ipairs(status.conditions or {}) do
  if condition.type == "Ready" then
    ready = condition
  elseif condition.type == "Stalled" then
    stalled = condition
  end
end

if current(stalled) and stalled.status == "True" then
  health.status = "Degraded"
  health.message = describe(stalled)
elseif current(ready) then
  if ready.status == "True" then
    health.status = "Healthy"
  end
  health.message = describe(ready)
end
return health
