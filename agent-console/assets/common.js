// Shared by the hall, the agent console and the staff console: the signaling client (protocol v1 over /ws), the
// audio peer connection with fixed receive slots, and the two-language strings.
//
// The message shapes are those of protocol/src/lib.rs (`ClientMessage` / `ServerMessage`).

/** The handle the browser tests read: `window.voicedesk.pc` is this page's current (or last)
 * RTCPeerConnection. Nothing else is global. */
export const testHandle = (window.voicedesk = { pc: null });

// ---------------------------------------------------------------------------------------------
// Strings

const LANG_KEY = "voicedesk.lang";
export const LANGS = ["zh-CN", "en"];

/** Every user-visible text, in Simplified Chinese and English. A value is a string or a function
 * of named parameters. */
const STRINGS = {
  "lang.switch": { "zh-CN": "English", en: "中文" },
  "hall.title": { "zh-CN": "社会保险网上服务大厅 · 语音咨询", en: "Social insurance online hall · Voice consultation" },
  "hall.service": { "zh-CN": "咨询业务", en: "Service" },
  "hall.loading_services": { "zh-CN": "正在加载业务…", en: "Loading services…" },
  "hall.services_unavailable": {
    "zh-CN": "综合咨询(业务列表暂时无法加载)",
    en: "General enquiries (the service list cannot be loaded)",
  },
  "hall.hours": {
    "zh-CN": ({ hours, open }) => `服务时间:${hours}(${open ? "现在可以呼叫" : "现在不在服务时间内"})`,
    en: ({ hours, open }) => `Service hours: ${hours} (${open ? "open now" : "closed now"})`,
  },
  "hours.always": { "zh-CN": "全天", en: "around the clock" },
  "hours.never": { "zh-CN": "暂停服务", en: "not in service" },
  "hall.wait_limit": {
    "zh-CN": "您已等待较长时间。您可以继续等待,您的排队位置会一直保留。",
    en: "You have been waiting a long time. You may keep waiting; your place is kept.",
  },
  "status.rejoining": { "zh-CN": "正在恢复您的排队…", en: "Restoring your place in the queue…" },
  "status.transferred": {
    "zh-CN": ({ service }) => `已为您转接至“${service}”,正在排队,请稍候。`,
    en: ({ service }) => `Transferred to "${service}"; you are in the queue, please wait.`,
  },
  "status.closed": {
    "zh-CN": ({ when }) => `该业务现在不在服务时间内,下次开放时间:${when}。`,
    en: ({ when }) => `This service is closed now; it opens again ${when}.`,
  },
  "hall.notice": {
    "zh-CN": "提示:为保证服务质量,本次通话可能会被监听或录音。点击“呼叫”后浏览器将请求使用麦克风。",
    en: "Notice: this call may be monitored or recorded for quality purposes. After you press Call the browser asks to use your microphone.",
  },
  "service.pension_inquiry": { "zh-CN": "养老保险查询", en: "Pension inquiry" },
  "service.medical_insurance": { "zh-CN": "医疗保险", en: "Medical insurance" },
  "service.unemployment_insurance": { "zh-CN": "失业保险", en: "Unemployment insurance" },
  "service.work_injury_insurance": { "zh-CN": "工伤保险", en: "Work-injury insurance" },
  "service.maternity_insurance": { "zh-CN": "生育保险", en: "Maternity insurance" },
  "service.pension_transfer": { "zh-CN": "社保转移(跨地区养老保险转移)", en: "Cross-region pension transfer" },
  "button.call": { "zh-CN": "呼叫", en: "Call" },
  "button.hangup": { "zh-CN": "挂断", en: "Hang up" },
  "button.mute": { "zh-CN": "静音", en: "Mute" },
  "button.unmute": { "zh-CN": "取消静音", en: "Unmute" },
  "button.accept": { "zh-CN": "接听", en: "Accept" },
  "button.reject": { "zh-CN": "拒绝", en: "Reject" },
  "button.available": { "zh-CN": "空闲", en: "Available" },
  "button.away": { "zh-CN": "离开", en: "Away" },
  "button.login": { "zh-CN": "登录", en: "Log in" },
  "button.logout": { "zh-CN": "退出登录", en: "Log out" },
  "slot.0.citizen": { "zh-CN": "客服语音", en: "Agent voice" },
  "slot.1.citizen": { "zh-CN": "第三方语音", en: "Third party voice" },
  "slot.0.agent": { "zh-CN": "群众语音", en: "Citizen voice" },
  "slot.1.agent": { "zh-CN": "坐席辅导语音", en: "Coach voice" },
  "slot.0.staff": { "zh-CN": "群众语音", en: "Citizen voice" },
  "slot.1.staff": { "zh-CN": "坐席语音", en: "Agent voice" },

  "status.idle": { "zh-CN": "请选择业务后点击“呼叫”。", en: "Choose a service and press Call." },
  "status.connecting_ws": { "zh-CN": "正在连接服务器…", en: "Connecting to the server…" },
  "status.reconnecting": {
    "zh-CN": ({ seconds }) => `与服务器的连接已断开,${seconds} 秒后重试…`,
    en: ({ seconds }) => `Connection to the server lost; retrying in ${seconds} s…`,
  },
  "status.requesting_mic": { "zh-CN": "正在请求使用麦克风…", en: "Asking for the microphone…" },
  "status.setting_up": { "zh-CN": "正在建立语音连接…", en: "Setting up the voice connection…" },
  "status.queued": { "zh-CN": "已进入排队,请稍候。", en: "You are in the queue, please wait." },
  "status.queue_position": {
    "zh-CN": ({ position }) => `排队中:您前面还有 ${position - 1} 位(第 ${position} 位)。`,
    en: ({ position }) => `In the queue: position ${position}.`,
  },
  "status.queue_position_eta": {
    "zh-CN": ({ position, minutes }) =>
      `排队中:您前面还有 ${position - 1} 位(第 ${position} 位),预计等待约 ${minutes} 分钟。`,
    en: ({ position, minutes }) =>
      `In the queue: position ${position}, estimated wait about ${minutes} min.`,
  },
  "status.connected": {
    "zh-CN": ({ peer }) => `已接通:${peer}`,
    en: ({ peer }) => `Connected with ${peer}`,
  },
  "status.hanging_up": { "zh-CN": "正在挂断…", en: "Hanging up…" },
  "status.ended": {
    "zh-CN": ({ reason }) => `通话已结束(${tOr("end.", reason)})。`,
    en: ({ reason }) => `Call ended (${tOr("end.", reason)}).`,
  },
  "status.mic_denied": {
    "zh-CN": "无法使用麦克风,请在浏览器中允许麦克风后重试。",
    en: "The microphone is not available. Allow it in the browser and try again.",
  },
  "status.media_failed": { "zh-CN": "语音连接失败。", en: "The voice connection failed." },
  "status.offline": { "zh-CN": "未连接到服务器。", en: "Not connected to the server." },
  "status.login_required": { "zh-CN": "请登录。", en: "Please log in." },
  "status.logged_in": {
    "zh-CN": ({ name }) => `已登录:${name}`,
    en: ({ name }) => `Logged in as ${name}`,
  },
  "status.logged_out": { "zh-CN": "已退出登录。", en: "Logged out." },
  "status.session_expired": {
    "zh-CN": "登录已过期,请重新登录。",
    en: "Your session has expired; please log in again.",
  },
  "status.not_agent": {
    "zh-CN": "此账号不是坐席账号,不能使用坐席工作台。",
    en: "This account is not an agent account and cannot use the agent console.",
  },
  "status.offered": {
    "zh-CN": ({ service }) => `来电:${serviceName(service)}`,
    en: ({ service }) => `Incoming call: ${serviceName(service)}`,
  },
  "status.withdrawn": {
    "zh-CN": ({ reason }) => `来电已撤回(${tOr("withdraw.", reason)})。`,
    en: ({ reason }) => `The call offer was withdrawn (${tOr("withdraw.", reason)}).`,
  },
  "status.error": {
    "zh-CN": ({ message, code }) => `出错了:${message}(${code})`,
    en: ({ message, code }) => `Error: ${message} (${code})`,
  },

  "login.title": { "zh-CN": "坐席登录", en: "Agent login" },
  "login.username": { "zh-CN": "用户名", en: "Username" },
  "login.password": { "zh-CN": "密码", en: "Password" },
  "login.invalid": { "zh-CN": "用户名或密码错误。", en: "Wrong username or password." },
  "login.failed": {
    "zh-CN": ({ status }) => `登录失败(HTTP ${status}),请稍后重试。`,
    en: ({ status }) => `Login failed (HTTP ${status}); try again later.`,
  },
  "login.unreachable": { "zh-CN": "无法连接服务器。", en: "The server cannot be reached." },

  "agent.title": { "zh-CN": "坐席工作台", en: "Agent console" },
  "agent.state": { "zh-CN": "坐席状态", en: "Agent state" },
  "agent.media": { "zh-CN": "耳麦连接", en: "Headset connection" },
  "agent.away_reason": { "zh-CN": "离开原因", en: "Away reason" },
  "agent.incoming": { "zh-CN": "来电", en: "Incoming call" },
  "agent.current_call": { "zh-CN": "当前通话", en: "Current call" },
  "agent.service": { "zh-CN": "业务", en: "Service" },
  "agent.waited": { "zh-CN": "已等待", en: "Waited" },
  "agent.ring_left": { "zh-CN": "振铃剩余", en: "Rings for" },
  "agent.peer": { "zh-CN": "通话对象", en: "Talking with" },
  "agent.duration": { "zh-CN": "通话时长", en: "Duration" },
  "agent.no_service": { "zh-CN": "未指定", en: "not given" },
  "agent.queue": { "zh-CN": "队列", en: "Queue" },
  "agent.my_queues": { "zh-CN": "我的队列", en: "My queues" },
  "agent.transfer_to": { "zh-CN": "转接至业务", en: "Transfer to service" },
  "agent.wrap_up": { "zh-CN": "话后小结", en: "Wrap-up" },
  "agent.disposition": { "zh-CN": "处理结果", en: "Outcome" },
  "agent.notes": { "zh-CN": "备注", en: "Notes" },
  "agent.acw_left": {
    "zh-CN": ({ seconds }) => `(${seconds} 秒后自动就绪)`,
    en: ({ seconds }) => `(ready in ${seconds} s)`,
  },
  "agent.transfers": {
    "zh-CN": ({ count }) => `已转接 ${count} 次`,
    en: ({ count }) => `transferred ${count}×`,
  },
  "agent.wrap_up_saved": { "zh-CN": "小结已保存。", en: "Wrap-up saved." },
  "agent.wrap_up_for": {
    "zh-CN": ({ service }) => `上一通话:${service}`,
    en: ({ service }) => `Last call: ${service}`,
  },
  "queues.agents": { "zh-CN": "空闲/在岗坐席", en: "Agents free / staffed" },
  "queues.none_for_me": { "zh-CN": "您尚未分配技能队列", en: "You have no queues assigned" },
  "button.transfer": { "zh-CN": "转接", en: "Transfer" },
  "button.save_wrap_up": { "zh-CN": "保存小结", en: "Save wrap-up" },
  "button.save_and_ready": { "zh-CN": "保存并就绪", en: "Save and ready" },
  "request.transfer": { "zh-CN": "转接失败", en: "Could not transfer the call" },
  "request.wrap_up": { "zh-CN": "保存小结失败", en: "Could not save the wrap-up" },
  "code.unknown_service": { "zh-CN": "业务不存在", en: "unknown service" },
  "reason.none": { "zh-CN": "(不填)", en: "(none)" },
  "reason.break": { "zh-CN": "休息", en: "Break" },
  "reason.meeting": { "zh-CN": "会议", en: "Meeting" },
  "reason.training": { "zh-CN": "培训", en: "Training" },

  "activity.available": { "zh-CN": "空闲", en: "Available" },
  "activity.away": { "zh-CN": "离开", en: "Away" },
  "activity.ringing": { "zh-CN": "振铃中", en: "Ringing" },
  "activity.on_call": { "zh-CN": "通话中", en: "On a call" },
  "activity.after_call_work": { "zh-CN": "话后处理", en: "After-call work" },
  "activity.unknown": { "zh-CN": "未知", en: "Unknown" },
  "media.none": { "zh-CN": "未连接", en: "Not connected" },
  "media.connecting": { "zh-CN": "连接中…", en: "Connecting…" },
  "media.connected": { "zh-CN": "已连接", en: "Connected" },
  "media.failed": { "zh-CN": "连接失败", en: "Failed" },
  "media.closed": { "zh-CN": "已关闭", en: "Closed" },

  "end.citizen_hang_up": { "zh-CN": "群众挂断", en: "the citizen hung up" },
  "end.agent_hang_up": { "zh-CN": "客服挂断", en: "the agent hung up" },
  "end.abandoned": { "zh-CN": "已放弃排队", en: "left the queue" },
  "end.media_failed": { "zh-CN": "语音连接失败", en: "the voice connection failed" },
  "end.citizen_disconnected": { "zh-CN": "群众已断开", en: "the citizen disconnected" },
  "end.agent_disconnected": { "zh-CN": "客服已断开", en: "the agent disconnected" },
  "end.no_agents": { "zh-CN": "该业务暂无客服在线", en: "no agent for this service is signed in" },
  "end.closed": { "zh-CN": "不在服务时间内", en: "outside service hours" },
  "end.queue_full": { "zh-CN": "排队人数已满", en: "the queue is full" },
  "end.transferred": { "zh-CN": "已转接至其他业务", en: "transferred to another service" },
  "end.server_shutdown": { "zh-CN": "服务器维护", en: "the server is shutting down" },
  "end.taken_over": { "zh-CN": "已由后台人员接管", en: "a supervisor took the call over" },
  "end.staff_hang_up": { "zh-CN": "后台人员挂断", en: "the supervisor hung up" },
  "withdraw.rejected": { "zh-CN": "已拒绝", en: "rejected" },
  "withdraw.ring_timeout": { "zh-CN": "振铃超时", en: "not answered in time" },
  "withdraw.citizen_left": { "zh-CN": "群众已挂断", en: "the citizen hung up" },
  "list.separator": { "zh-CN": ";", en: "; " },
  "none": { "zh-CN": "无", en: "none" },

  // The hall: staff the citizen can hear (barge, take over). Never about monitoring.
  "hall.supervisor_joined": { "zh-CN": "主管已加入通话。", en: "A supervisor has joined the call." },
  "hall.supervisor_took_over": {
    "zh-CN": "主管已接管您的通话。",
    en: "A supervisor has taken over your call.",
  },

  // Support modes (DESIGN.md, the staff modes table).
  "mode.monitor": { "zh-CN": "监听", en: "Monitor" },
  "mode.whisper": { "zh-CN": "耳语", en: "Whisper" },
  "mode.barge": { "zh-CN": "强插", en: "Barge" },
  "mode.take_over": { "zh-CN": "接管", en: "Take over" },
  "mode.none": { "zh-CN": "未加入通话", en: "Not on a call" },
  "mode_ing.monitor": { "zh-CN": "正在监听", en: "monitoring" },
  "mode_ing.whisper": { "zh-CN": "正在耳语指导(群众听不到)", en: "whispering" },
  "mode_ing.barge": { "zh-CN": "已加入三方通话", en: "barged in (three-way)" },
  "mode_ing.take_over": { "zh-CN": "已接管通话", en: "has taken over" },
  "mode.hint.monitor": { "zh-CN": "只听,不说", en: "Listen only" },
  "mode.hint.whisper": { "zh-CN": "只有坐席能听到您", en: "Only the agent hears you" },
  "mode.hint.barge": { "zh-CN": "三方通话:群众和坐席都能听到您", en: "Three-way: the citizen and the agent hear you" },
  "mode.hint.take_over": { "zh-CN": "由您继续与群众通话,坐席退出", en: "You keep the citizen; the agent leaves" },

  // The agent console: help requests and who supports the call.
  "agent.support": { "zh-CN": "后台支持", en: "Supervisor" },
  "support.none": { "zh-CN": "无后台人员在线支持", en: "No supervisor on the call" },
  "help.reason": { "zh-CN": "求助原因", en: "Reason for help" },
  "button.request_help": { "zh-CN": "请求支持", en: "Ask for help" },
  "button.cancel_help": { "zh-CN": "取消求助", en: "Cancel request" },
  "help.sending": { "zh-CN": "正在发送求助…", en: "Sending the request…" },
  "help.pending": { "zh-CN": "已发出求助,正在等待后台人员接受…", en: "Help requested; waiting for a supervisor…" },
  "help.accepted": {
    "zh-CN": ({ name }) => `${name} 已接受求助并加入通话。`,
    en: ({ name }) => `${name} accepted and joined the call.`,
  },
  "help.cancelled": { "zh-CN": "求助已取消。", en: "The help request was cancelled." },

  // The staff console.
  "staff.title": { "zh-CN": "后台支持工作台", en: "Staff console" },
  "staff.login_title": { "zh-CN": "后台人员登录", en: "Staff login" },
  "status.not_staff": {
    "zh-CN": "此账号不是后台人员账号,不能使用后台支持工作台。",
    en: "This account is not a staff account and cannot use the staff console.",
  },
  "staff.headset": { "zh-CN": "耳麦连接", en: "Headset connection" },
  "staff.current_mode": { "zh-CN": "我的支持状态", en: "My support" },
  "staff.me": { "zh-CN": "我的耳麦与通话", en: "My headset and call" },
  "staff.on_call": {
    "zh-CN": ({ mode, service, agent }) => `${mode} · ${service}(${agent})`,
    en: ({ mode, service, agent }) => `${mode} · ${service} (${agent})`,
  },
  "staff.joined": {
    "zh-CN": ({ mode }) => `已以“${mode}”方式加入通话。`,
    en: ({ mode }) => `On the call: ${mode}.`,
  },
  "staff.left": { "zh-CN": "已退出通话。", en: "You left the call." },
  "staff.call_ended": {
    "zh-CN": ({ reason }) => `通话已结束(${tOr("end.", reason)})。`,
    en: ({ reason }) => `The call ended (${tOr("end.", reason)}).`,
  },
  "staff.help_accepted": { "zh-CN": "已接受求助,正在耳语指导。", en: "Help request accepted: you are whispering." },
  "wallboard.title": { "zh-CN": "实时监控看板", en: "Live wallboard" },
  "wallboard.waiting_data": { "zh-CN": "正在等待实时数据…", en: "Waiting for live data…" },
  "wallboard.updated": {
    "zh-CN": ({ time }) => `更新于 ${time}`,
    en: ({ time }) => `Updated ${time}`,
  },
  "queues.title": { "zh-CN": "队列", en: "Queues" },
  "queues.name": { "zh-CN": "队列", en: "Queue" },
  "queues.waiting": { "zh-CN": "排队数", en: "Waiting" },
  "queues.longest": { "zh-CN": "最长等待", en: "Longest wait" },
  "queues.answered": { "zh-CN": "今日接通", en: "Answered today" },
  "queues.abandoned": { "zh-CN": "今日放弃", en: "Abandoned today" },
  "queues.service_level": { "zh-CN": "服务水平", en: "Service level" },
  "queues.sl_value": {
    "zh-CN": ({ pct, seconds }) => `${pct}%(${seconds} 秒内)`,
    en: ({ pct, seconds }) => `${pct} % (within ${seconds} s)`,
  },
  "queues.empty": { "zh-CN": "暂无队列", en: "No queues" },
  "queues.all": { "zh-CN": "全部队列", en: "All queues" },
  "agents.title": { "zh-CN": "坐席", en: "Agents" },
  "agents.name": { "zh-CN": "坐席", en: "Agent" },
  "agents.state": { "zh-CN": "状态", en: "State" },
  "agents.in_state": { "zh-CN": "持续时间", en: "Time in state" },
  "agents.empty": { "zh-CN": "暂无坐席登录", en: "No agent is signed in" },
  "calls.title": { "zh-CN": "进行中的通话", en: "Calls in progress" },
  "calls.service": { "zh-CN": "业务", en: "Service" },
  "calls.phase": { "zh-CN": "阶段", en: "Phase" },
  "calls.agent": { "zh-CN": "坐席", en: "Agent" },
  "calls.duration": { "zh-CN": "时长", en: "Duration" },
  "calls.supporters": { "zh-CN": "后台支持", en: "Supported by" },
  "calls.actions": { "zh-CN": "操作", en: "Actions" },
  "calls.empty": { "zh-CN": "暂无通话", en: "No calls in progress" },
  "calls.actions_for": {
    "zh-CN": ({ service, agent }) => `通话操作:${service}(${agent})`,
    en: ({ service, agent }) => `Actions for the call: ${service} (${agent})`,
  },
  "phase.queued": { "zh-CN": "排队中", en: "Queued" },
  "phase.ringing": { "zh-CN": "振铃中", en: "Ringing" },
  "phase.talking": { "zh-CN": "通话中", en: "Talking" },
  "button.leave": { "zh-CN": "退出", en: "Leave" },
  "button.log": { "zh-CN": "日志", en: "Log" },
  "button.accept_help": { "zh-CN": "接受", en: "Accept" },
  "button.all_calls": { "zh-CN": "显示全部", en: "Show all" },
  "button.refresh": { "zh-CN": "刷新", en: "Refresh" },
  "help.title": { "zh-CN": "求助请求", en: "Help requests" },
  "help.empty": { "zh-CN": "暂无求助请求", en: "No open help requests" },
  "help.row": {
    "zh-CN": ({ agent, reason }) => `${agent}:${reason}`,
    en: ({ agent, reason }) => `${agent}: ${reason}`,
  },
  "help.no_reason": { "zh-CN": "(未填写原因)", en: "(no reason given)" },
  "help.waiting": { "zh-CN": "已等待", en: "Waiting" },
  "chart.title": { "zh-CN": "排队数与服务水平趋势", en: "Queue length and service level" },
  "chart.waiting": { "zh-CN": "排队数", en: "Waiting" },
  "chart.service_level": { "zh-CN": "服务水平 %", en: "Service level %" },
  "chart.time": { "zh-CN": "时间", en: "Time" },
  "chart.empty": { "zh-CN": "暂无历史数据", en: "No history yet" },
  "chart.summary": {
    "zh-CN": ({ from, to, now, max, sl }) =>
      `${from} 至 ${to} 的排队数与服务水平:当前排队 ${now} 个,最多 ${max} 个;当前服务水平 ${sl}。`,
    en: ({ from, to, now, max, sl }) =>
      `Queue length and service level from ${from} to ${to}: ${now} waiting now, at most ${max}; service level now ${sl}.`,
  },
  "audit.title": { "zh-CN": "审计日志", en: "Audit log" },
  "audit.scope_all": { "zh-CN": "全部通话(最近 50 条)", en: "All calls (latest 50)" },
  "audit.scope_call": {
    "zh-CN": ({ call }) => `通话 ${call}`,
    en: ({ call }) => `Call ${call}`,
  },
  "audit.time": { "zh-CN": "时间", en: "Time" },
  "audit.actor": { "zh-CN": "操作人", en: "Who" },
  "audit.call": { "zh-CN": "通话", en: "Call" },
  "audit.action": { "zh-CN": "操作", en: "Action" },
  "audit.mode": { "zh-CN": "方式", en: "Mode" },
  "audit.detail": { "zh-CN": "详情", en: "Detail" },
  "audit.empty": { "zh-CN": "暂无记录", en: "No entries" },
  "audit.unavailable": {
    "zh-CN": ({ status }) => `无法读取审计日志(HTTP ${status})。`,
    en: ({ status }) => `The audit log cannot be read (HTTP ${status}).`,
  },
  "audit_action.join": { "zh-CN": "加入", en: "Joined" },
  "audit_action.mode": { "zh-CN": "切换方式", en: "Changed mode" },
  "audit_action.leave": { "zh-CN": "退出", en: "Left" },
  "audit_action.take_over": { "zh-CN": "接管", en: "Took over" },
  "audit_action.recording_access": { "zh-CN": "访问录音", en: "Opened the recording" },

  // Readable errors: what failed, and why in words.
  "request.join_call": { "zh-CN": "加入通话失败", en: "Could not join the call" },
  "request.set_mode": { "zh-CN": "切换方式失败", en: "Could not change the mode" },
  "request.leave_call": { "zh-CN": "退出通话失败", en: "Could not leave the call" },
  "request.accept_help": { "zh-CN": "接受求助失败", en: "Could not accept the help request" },
  "request.request_help": { "zh-CN": "求助失败", en: "Could not ask for help" },
  "request.cancel_help": { "zh-CN": "取消求助失败", en: "Could not cancel the request" },
  "request.media_connect": { "zh-CN": "耳麦连接失败", en: "The headset could not connect" },
  "code.forbidden": { "zh-CN": "没有权限", en: "not allowed for this account" },
  "code.unknown_call": { "zh-CN": "通话不存在或已结束", en: "the call is unknown or has ended" },
  "code.invalid_state": { "zh-CN": "当前状态下不能这样操作", en: "not possible right now" },
  "code.media_unavailable": { "zh-CN": "语音服务暂不可用", en: "the voice service is unavailable" },
  "code.internal": { "zh-CN": "服务器内部错误", en: "a server fault" },
  "status.request_failed": {
    "zh-CN": ({ what, why, message, code }) => `${what}:${why}。${message}(${code})`,
    en: ({ what, why, message, code }) => `${what}: ${why}. ${message} (${code})`,
  },
  // --- Other ways to get help (issue 6): messages, the assistant, ratings ----------------------
  "end.message_left": { "zh-CN": "您已留言", en: "you left a message" },
  "other.title": { "zh-CN": "其他求助方式", en: "Other ways to get help" },
  "other.open": { "zh-CN": "其他求助方式:留言或智能助手", en: "Other ways to get help: a message or the assistant" },
  "other.intro": {
    "zh-CN": "暂时无法接通人工客服时,您可以留下文字或语音留言(工作人员会在两个工作日内答复),也可以先问问智能助手。",
    en: "When no agent can take your call, leave a text or voice message (our staff reply within two working days), or ask the assistant first.",
  },
  "other.why.closed": {
    "zh-CN": ({ when }) => `该业务现在不在服务时间内,下次开放时间:${when}。您可以现在留言,或先问问智能助手。`,
    en: ({ when }) => `This service is closed now; it opens again ${when}. You can leave a message now, or ask the assistant.`,
  },
  "other.why.closed_unknown": {
    "zh-CN": "该业务现在不在服务时间内。您可以现在留言,或先问问智能助手。",
    en: "This service is closed now. You can leave a message now, or ask the assistant.",
  },
  "other.why.queue_full": {
    "zh-CN": "现在排队的人数已满,暂时无法排队。您可以留言,或先问问智能助手。",
    en: "The queue is full right now. You can leave a message, or ask the assistant.",
  },
  "other.why.no_agents": {
    "zh-CN": "现在没有负责该业务的客服在线。您可以留言,或先问问智能助手。",
    en: "No agent for this service is available right now. You can leave a message, or ask the assistant.",
  },
  "other.why.wait_limit": {
    "zh-CN": "您已等待较长时间。您可以继续等待(排队位置一直保留),也可以留言或问问智能助手;发送留言后本次排队结束。",
    en: "You have been waiting a long time. You may keep waiting (your place is kept), or leave a message or ask the assistant; sending a message ends this call.",
  },
  "other.why.queued": {
    "zh-CN": "您仍在排队,位置一直保留,直到您发送留言为止。",
    en: "You are still in the queue; your place is kept until you send a message.",
  },
  "message.title": { "zh-CN": "留言", en: "Leave a message" },
  "message.service": { "zh-CN": "留言业务", en: "Service" },
  "message.name": { "zh-CN": "姓名(选填)", en: "Name (optional)" },
  "message.phone": { "zh-CN": "联系电话(选填)", en: "Phone (optional)" },
  "message.body": { "zh-CN": "文字留言", en: "Your message" },
  "message.counter": {
    "zh-CN": ({ count, max }) => `已输入 ${count} / ${max} 字`,
    en: ({ count, max }) => `${count} of ${max} characters`,
  },
  "message.send": { "zh-CN": "发送文字留言", en: "Send the message" },
  "message.sending": { "zh-CN": "正在发送留言…", en: "Sending your message…" },
  "message.empty": { "zh-CN": "请填写留言内容。", en: "Please write your message." },
  "message.retry": {
    "zh-CN": "与服务器的连接中断,留言可能尚未保存。恢复连接后会自动重新发送,不会重复。",
    en: "The connection dropped; your message may not be saved yet. It is sent again once we are back online, never twice.",
  },
  "message.offline": {
    "zh-CN": "未连接到服务器,留言尚未发送。恢复连接后会自动发送。",
    en: "Not connected to the server; the message is not sent yet. It is sent once we are back online.",
  },
  "message.saved_title": { "zh-CN": "留言已保存", en: "Your message is saved" },
  "message.write_down": {
    "zh-CN": "请记下票号和查询码:凭它们查看答复。查询码只显示这一次。",
    en: "Write these down: you need the ticket number and the code to read the reply. The code is shown only this once.",
  },
  "message.ticket": { "zh-CN": "票号", en: "Ticket number" },
  "message.code": { "zh-CN": "查询码", en: "Secret code" },
  "message.due": {
    "zh-CN": ({ when }) => `工作人员将在 ${when} 前答复。`,
    en: ({ when }) => `Our staff will reply by ${when}.`,
  },
  "message.link": { "zh-CN": "查看留言状态和答复", en: "Check the status and read the reply" },
  "message.another": { "zh-CN": "再写一条留言", en: "Write another message" },
  "voice.title": { "zh-CN": "语音留言", en: "Voice message" },
  "voice.hint": {
    "zh-CN": "不方便打字?录一段语音留言。上面的业务、姓名和电话同样适用。",
    en: "Rather speak? Record a voice message. The service, name and phone above apply to it too.",
  },
  "voice.start": { "zh-CN": "录制语音留言", en: "Record a voice message" },
  "voice.starting": { "zh-CN": "正在准备录音…", en: "Getting ready to record…" },
  "voice.recording": {
    "zh-CN": ({ elapsed, remaining }) => `正在录音 ${elapsed},还可录 ${remaining}`,
    en: ({ elapsed, remaining }) => `Recording ${elapsed}, ${remaining} left`,
  },
  "voice.max_reached": {
    "zh-CN": "已达到最长录音时间,请点击“停止并发送”。",
    en: "The longest message is reached; press “Stop and send”.",
  },
  "voice.started": {
    "zh-CN": "开始录音,请说出您的问题。说完后点击“停止并发送”。",
    en: "Recording. Say what you need, then press “Stop and send”.",
  },
  "voice.stop": { "zh-CN": "停止并发送", en: "Stop and send" },
  "voice.cancel": { "zh-CN": "取消录音", en: "Cancel" },
  "voice.saving": { "zh-CN": "正在保存语音留言…", en: "Saving your voice message…" },
  "voice.cancelled": { "zh-CN": "语音留言已取消,未保存任何内容。", en: "The voice message was cancelled; nothing was kept." },
  "voice.mic_denied": {
    "zh-CN": "无法使用麦克风,不能录制语音留言。您可以改为文字留言。",
    en: "The microphone is not available, so no voice message can be recorded. You can write a message instead.",
  },
  "request.leave_message": { "zh-CN": "留言未能保存", en: "The message could not be saved" },
  "request.start_voice_message": { "zh-CN": "无法开始录音", en: "Could not start recording" },
  "request.finish_voice_message": { "zh-CN": "语音留言未能保存", en: "The voice message could not be saved" },
  "request.cancel_voice_message": { "zh-CN": "取消录音失败", en: "Could not cancel the recording" },
  "request.ask": { "zh-CN": "智能助手暂时无法回答", en: "The assistant cannot answer now" },
  "request.rate": { "zh-CN": "评价未能保存", en: "The rating could not be saved" },
  "assistant.title": { "zh-CN": "智能助手", en: "Ask the assistant" },
  "assistant.intro": {
    "zh-CN": "用一句话说出您的问题,例如“养老保险转到外地要多久?”",
    en: "Ask in your own words, for example “How long does moving my pension to another city take?”",
  },
  "assistant.log": { "zh-CN": "与智能助手的对话", en: "Conversation with the assistant" },
  "assistant.question": { "zh-CN": "您的问题", en: "Your question" },
  "assistant.ask": { "zh-CN": "提问", en: "Ask" },
  "assistant.you": { "zh-CN": "您", en: "You" },
  "assistant.bot": { "zh-CN": "智能助手", en: "Assistant" },
  "assistant.not_sure": {
    "zh-CN": "没有找到确切的答案。下面这些内容也许有帮助,您也可以转人工或留言。",
    en: "I could not find a sure answer. These may help; you can also talk to an agent or leave a message.",
  },
  "assistant.nothing": {
    "zh-CN": "没有找到相关内容。您可以转人工客服或留言。",
    en: "I found nothing on that. You can talk to an agent or leave a message.",
  },
  "assistant.suggestions": { "zh-CN": "您可能想了解:", en: "You may be looking for:" },
  "assistant.talk": { "zh-CN": "转人工客服", en: "Talk to an agent" },
  "assistant.leave_message": { "zh-CN": "留言", en: "Leave a message" },
  "assistant.busy": {
    "zh-CN": "通话进行中,智能助手暂停回答;通话结束后可以继续提问。",
    en: "The assistant pauses while you are on a call; ask again after the call.",
  },
  "rating.title_call": { "zh-CN": "请您对本次通话服务作出评价", en: "Please rate this call" },
  "rating.title_message": { "zh-CN": "请您对本次答复作出评价", en: "Please rate the reply" },
  "rating.legend": { "zh-CN": "满意程度", en: "How satisfied are you?" },
  "rating.level.5": { "zh-CN": "非常满意", en: "Very satisfied" },
  "rating.level.4": { "zh-CN": "满意", en: "Satisfied" },
  "rating.level.3": { "zh-CN": "基本满意", en: "Fairly satisfied" },
  "rating.level.2": { "zh-CN": "不满意", en: "Dissatisfied" },
  "rating.level.1": { "zh-CN": "非常不满意", en: "Very dissatisfied" },
  "rating.comment": { "zh-CN": "意见或建议(选填)", en: "Comment (optional)" },
  "rating.submit": { "zh-CN": "提交评价", en: "Send rating" },
  "rating.choose": { "zh-CN": "请先选择满意程度。", en: "Please choose how satisfied you are first." },
  "rating.thanks": { "zh-CN": "感谢您的评价!", en: "Thank you for your rating!" },
  "rating.given": {
    "zh-CN": ({ level }) => `您的评价:${level}`,
    en: ({ level }) => `Your rating: ${level}`,
  },
  "rating.thanks_given": {
    "zh-CN": ({ level }) => `感谢您的评价!您的评价:${level}`,
    en: ({ level }) => `Thank you for your rating! Your rating: ${level}`,
  },
  "rating.already": { "zh-CN": "这条留言已经评价过了。", en: "This message has been rated already." },

  // The ticket page.
  "ticket.page_title": { "zh-CN": "留言查询", en: "Message status" },
  "ticket.back": { "zh-CN": "返回服务大厅", en: "Back to the hall" },
  "ticket.intro": {
    "zh-CN": "输入留言时得到的票号和查询码,查看处理状态和工作人员的答复。",
    en: "Enter the ticket number and the code you got when you left the message to see its status and the reply.",
  },
  "ticket.number": { "zh-CN": "票号", en: "Ticket number" },
  "ticket.code": { "zh-CN": "查询码", en: "Secret code" },
  "ticket.lookup": { "zh-CN": "查询", en: "Look up" },
  "ticket.looking": { "zh-CN": "正在查询…", en: "Looking it up…" },
  "ticket.missing": { "zh-CN": "请填写票号和查询码。", en: "Please enter the ticket number and the code." },
  "ticket.not_found": {
    "zh-CN": "票号或查询码不正确,请核对后重试。",
    en: "The ticket number or the code is not right. Check both and try again.",
  },
  "ticket.failed": {
    "zh-CN": ({ status }) => `暂时无法查询(HTTP ${status}),请稍后重试。`,
    en: ({ status }) => `The message cannot be looked up now (HTTP ${status}); try again later.`,
  },
  "ticket.unreachable": { "zh-CN": "无法连接服务器,请稍后重试。", en: "The server cannot be reached; try again later." },
  "ticket.heading": {
    "zh-CN": ({ ticket }) => `留言 ${ticket}`,
    en: ({ ticket }) => `Message ${ticket}`,
  },
  "ticket.state": { "zh-CN": "状态", en: "State" },
  "ticket.service": { "zh-CN": "业务", en: "Service" },
  "ticket.kind": { "zh-CN": "类型", en: "Kind" },
  "ticket.created": { "zh-CN": "留言时间", en: "Received" },
  "ticket.due": { "zh-CN": "答复期限", en: "Reply due by" },
  "ticket.your_message": { "zh-CN": "您的留言", en: "Your message" },
  "ticket.voice_length": {
    "zh-CN": ({ duration }) => `语音留言,时长 ${duration}`,
    en: ({ duration }) => `A voice message of ${duration}`,
  },
  "ticket.reply": { "zh-CN": "工作人员答复", en: "Our reply" },
  "ticket.replied_at": {
    "zh-CN": ({ when }) => `答复时间:${when}`,
    en: ({ when }) => `Replied ${when}`,
  },
  "ticket.no_reply": {
    "zh-CN": "工作人员尚未答复,请在答复期限后再来查看。",
    en: "No reply yet; please look again by the due date.",
  },
  "ticket_state.new": { "zh-CN": "已收到,等待处理", en: "Received, waiting" },
  "ticket_state.assigned": { "zh-CN": "处理中", en: "Being handled" },
  "ticket_state.answered": { "zh-CN": "已答复", en: "Answered" },
  "ticket_state.closed": { "zh-CN": "已办结", en: "Closed" },
  "kind.text": { "zh-CN": "文字留言", en: "Text" },
  "kind.voice": { "zh-CN": "语音留言", en: "Voice" },

  // The staff console: the inbox and the follow-ups.
  "inbox.title": { "zh-CN": "留言箱", en: "Inbox" },
  "inbox.filter_state": { "zh-CN": "状态", en: "State" },
  "inbox.all_states": { "zh-CN": "全部", en: "All" },
  "inbox.overdue_only": { "zh-CN": "只看已超期", en: "Overdue only" },
  "inbox.ticket": { "zh-CN": "票号", en: "Ticket" },
  "inbox.service": { "zh-CN": "业务", en: "Service" },
  "inbox.kind": { "zh-CN": "类型", en: "Kind" },
  "inbox.received": { "zh-CN": "收到时间", en: "Received" },
  "inbox.due": { "zh-CN": "答复期限", en: "Due" },
  "inbox.state": { "zh-CN": "状态", en: "State" },
  "inbox.assignee": { "zh-CN": "处理人", en: "Assignee" },
  "inbox.overdue": { "zh-CN": "已超期", en: "Overdue" },
  "inbox.unassigned": { "zh-CN": "未分配", en: "Unassigned" },
  "inbox.empty": { "zh-CN": "没有符合条件的留言", en: "No messages match" },
  "inbox.open": {
    "zh-CN": ({ ticket }) => `查看留言 ${ticket}`,
    en: ({ ticket }) => `Open message ${ticket}`,
  },
  "inbox.count": {
    "zh-CN": ({ count, overdue }) => `共 ${count} 条,其中已超期 ${overdue} 条`,
    en: ({ count, overdue }) => `${count} messages, ${overdue} overdue`,
  },
  "inbox.from": { "zh-CN": "留言人", en: "From" },
  "inbox.phone": { "zh-CN": "联系电话", en: "Phone" },
  "inbox.not_given": { "zh-CN": "未填写", en: "not given" },
  "inbox.reason": { "zh-CN": "留言原因", en: "Why a message" },
  "inbox.body": { "zh-CN": "留言内容", en: "Message" },
  "inbox.voice": {
    "zh-CN": ({ duration }) => `语音留言(${duration})`,
    en: ({ duration }) => `Voice message (${duration})`,
  },
  "inbox.assign_me": { "zh-CN": "分配给我", en: "Assign to me" },
  "inbox.reply": { "zh-CN": "答复内容(群众在留言查询页看到)", en: "Reply (the citizen reads it on the ticket page)" },
  "inbox.send_reply": { "zh-CN": "发送答复", en: "Send reply" },
  "inbox.close": { "zh-CN": "办结", en: "Close" },
  "inbox.close_detail": { "zh-CN": "收起详情", en: "Hide details" },
  "inbox.reply_empty": { "zh-CN": "请填写答复内容。", en: "Please write the reply." },
  "inbox.replied": {
    "zh-CN": ({ who, when }) => `${who} 于 ${when} 答复:`,
    en: ({ who, when }) => `${who} replied ${when}:`,
  },
  "inbox.done.assign": { "zh-CN": "已分配给您。", en: "Assigned to you." },
  "inbox.done.reply": { "zh-CN": "答复已发送。", en: "The reply is sent." },
  "inbox.done.close": { "zh-CN": "留言已办结。", en: "The message is closed." },
  "inbox.unavailable": {
    "zh-CN": ({ status }) => `无法读取留言箱(HTTP ${status})。`,
    en: ({ status }) => `The inbox cannot be read (HTTP ${status}).`,
  },
  "inbox.action_failed": {
    "zh-CN": ({ status, message }) => `操作失败(HTTP ${status}):${message}`,
    en: ({ status, message }) => `That did not work (HTTP ${status}): ${message}`,
  },
  "msg_reason.closed": { "zh-CN": "不在服务时间", en: "outside service hours" },
  "msg_reason.queue_full": { "zh-CN": "排队已满", en: "queue full" },
  "msg_reason.no_agents": { "zh-CN": "无客服在线", en: "no agent signed in" },
  "msg_reason.wait_limit": { "zh-CN": "等待过久", en: "waited too long" },
  "msg_reason.choice": { "zh-CN": "群众主动留言", en: "the citizen's choice" },
  "followups.title": { "zh-CN": "低评分回访", en: "Follow-ups" },
  "followups.intro": {
    "zh-CN": "“不满意”和“非常不满意”的评价,处理后请标记。",
    en: "Ratings of “dissatisfied” and “very dissatisfied”; mark each handled once followed up.",
  },
  "followups.subject": { "zh-CN": "对象", en: "Subject" },
  "followups.level": { "zh-CN": "评价", en: "Rating" },
  "followups.comment": { "zh-CN": "意见", en: "Comment" },
  "followups.when": { "zh-CN": "评价时间", en: "When" },
  "followups.action": { "zh-CN": "处理", en: "Follow-up" },
  "followups.note": {
    "zh-CN": ({ subject }) => `处理说明:${subject}`,
    en: ({ subject }) => `Note on ${subject}`,
  },
  "followups.note_placeholder": { "zh-CN": "处理说明", en: "Note" },
  "followups.mark": { "zh-CN": "标记已处理", en: "Mark handled" },
  "followups.level_value": {
    "zh-CN": ({ name, level }) => `${name}(${level} 分)`,
    en: ({ name, level }) => `${name} (${level})`,
  },
  "inbox.state_overdue": {
    "zh-CN": ({ state }) => `${state} · 已超期`,
    en: ({ state }) => `${state} · Overdue`,
  },
  "followups.empty": { "zh-CN": "暂无待回访的评价", en: "No open follow-ups" },
  "followups.no_comment": { "zh-CN": "(无意见)", en: "(no comment)" },
  "followups.kind.call": {
    "zh-CN": ({ id }) => `通话 ${id}`,
    en: ({ id }) => `Call ${id}`,
  },
  "followups.kind.message": {
    "zh-CN": ({ id }) => `留言 ${id}`,
    en: ({ id }) => `Message ${id}`,
  },
  "followups.unavailable": {
    "zh-CN": ({ status }) => `无法读取回访列表(HTTP ${status})。`,
    en: ({ status }) => `The follow-ups cannot be read (HTTP ${status}).`,
  },
  "followups.done": { "zh-CN": "已标记为已处理。", en: "Marked handled." },
};

let lang = initialLang();
const langListeners = [];

function initialLang() {
  let stored = null;
  try {
    stored = localStorage.getItem(LANG_KEY);
  } catch {
    // Storage may be disabled; fall back to the browser's language.
  }
  if (LANGS.includes(stored)) return stored;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

/** The text of `key` in the current language; unknown keys show as themselves. */
export function t(key, params = {}) {
  const entry = STRINGS[key];
  if (!entry) return key;
  const value = entry[lang];
  return typeof value === "function" ? value(params) : value;
}

/** The current language, `"zh-CN"` or `"en"`. */
export function currentLang() {
  return lang;
}

/** `t(prefix + value)` when such a string exists, else the raw value (for server-sent names). */
export function tOr(prefix, value) {
  return STRINGS[prefix + value] ? t(prefix + value) : value;
}

// ---------------------------------------------------------------------------------------------
// The hall's catalogue (`GET /api/catalogue`): areas, services, skills (queues), away reasons and
// dispositions, each with a Chinese and an English name. Loaded once per page.

const catalogue = { loaded: false, areas: [], services: [], skills: [], away_reasons: [], dispositions: [] };
const byId = { services: new Map(), skills: new Map(), areas: new Map(), away_reasons: new Map(), dispositions: new Map() };

/** Fetches the catalogue; resolves to it (empty lists when the server cannot be reached). */
export async function loadCatalogue() {
  try {
    const response = await fetch("/api/catalogue", { headers: { accept: "application/json" } });
    if (response.ok) Object.assign(catalogue, await response.json(), { loaded: true });
  } catch (error) {
    console.warn("voicedesk: catalogue unavailable", error);
  }
  for (const [list, key] of [
    ["services", "id"],
    ["skills", "id"],
    ["areas", "id"],
    ["away_reasons", "code"],
    ["dispositions", "code"],
  ]) {
    byId[list] = new Map((catalogue[list] ?? []).map((item) => [item[key], item]));
  }
  return catalogue;
}

/** The catalogue as loaded (empty lists before `loadCatalogue`). */
export function getCatalogue() {
  return catalogue;
}

/** The name of a catalogue entry in the current language. */
export function localName(entry) {
  if (!entry) return "";
  return lang === "zh-CN" ? entry.name_zh : entry.name_en;
}

function named(list, id, fallback) {
  if (!id) return fallback;
  return localName(byId[list].get(id)) || id;
}

/** A call's service as shown to people: its catalogue name, else the id as sent. */
export function serviceName(service) {
  return named("services", service, t("agent.no_service"));
}

/** A queue (skill) by its catalogue name. */
export function skillName(skill) {
  return named("skills", skill, "—");
}

/** An away reason by its catalogue name (`null` → "(none)"). */
export function reasonName(code) {
  return named("away_reasons", code, t("reason.none"));
}

/** A wrap-up disposition by its catalogue name. */
export function dispositionName(code) {
  return named("dispositions", code, "—");
}

/** Fills a `<select>` with `items` (`{value, label}`), keeping the current choice if possible. */
export function fillSelect(select, items, { keep = true } = {}) {
  const previous = select.value;
  select.replaceChildren(
    ...items.map(({ value, label, group }) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = label;
      if (group) option.dataset.group = group;
      return option;
    }),
  );
  if (keep && items.some((i) => i.value === previous)) select.value = previous;
}

/** Fills every `[data-i18n]` element and sets `<html lang>`; then re-renders dynamic texts. */
export function applyLang() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  // The switch names the other language, in that language.
  const other = lang === "zh-CN" ? "en" : "zh-CN";
  document.getElementById("lang-switch")?.setAttribute("lang", other);
  for (const listener of langListeners) listener();
}

/** Wires the `#lang-switch` button and applies the current language once. */
export function setupLang(onChange) {
  if (onChange) langListeners.push(onChange);
  const button = document.getElementById("lang-switch");
  button?.addEventListener("click", () => {
    lang = lang === "zh-CN" ? "en" : "zh-CN";
    try {
      localStorage.setItem(LANG_KEY, lang);
    } catch {
      // Not remembered across reloads; still switched.
    }
    applyLang();
  });
  applyLang();
}

/** A live region whose text is re-rendered on a language switch. `data-state` carries the
 * machine-readable state (for styling and tests). */
export class StatusLine {
  constructor(element) {
    this.element = element;
    this.key = null;
    this.params = {};
    langListeners.push(() => this.render());
  }

  set(state, key, params = {}) {
    this.element.dataset.state = state;
    this.key = key;
    this.params = params;
    this.render();
  }

  render() {
    if (this.key) this.element.textContent = t(this.key, this.params);
  }
}

/** Shows a server `error` message (or any failure) in a `role=alert` element; `null` hides it. */
export function showError(element, error) {
  // A client note (`data-i18n`) is replaced, not re-rendered on a language switch.
  delete element.dataset.i18n;
  if (!error) {
    element.hidden = true;
    element.textContent = "";
    delete element.dataset.code;
    return;
  }
  element.dataset.code = error.code || "client";
  element.textContent = error.request_type
    ? describeError(error)
    : t("status.error", { message: error.message || String(error), code: error.code || "client" });
  element.hidden = false;
}

/** "陈静 Chen Jing — whispering": one staff member on a call, from `support_changed`. */
export function supporterText(supporter) {
  return `${supporter.name} — ${tOr("mode_ing.", supporter.mode)}`;
}

/** A server `error` as a sentence: what failed and why, then the server's words. */
export function describeError(msg) {
  const what = msg.request_type ? tOr("request.", msg.request_type) : t("status.error", msg);
  if (!msg.request_type) return what;
  return t("status.request_failed", {
    what,
    why: tOr("code.", msg.code),
    message: msg.message || "",
    code: msg.code,
  });
}

/** `HH:MM` (or with `:SS`) for an epoch time, in the page's language. */
export function formatClock(ms, seconds = false) {
  return new Date(ms).toLocaleTimeString(lang, {
    hour: "2-digit",
    minute: "2-digit",
    second: seconds ? "2-digit" : undefined,
    hour12: false,
  });
}

/** Weekday, date and time of an epoch-ms instant, for "opens again …". */
export function formatDateTime(ms) {
  return new Date(ms).toLocaleString(lang, {
    weekday: "short",
    month: "numeric",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
}

const DAY_NAMES = {
  mon: { "zh-CN": "周一", en: "Mon" },
  tue: { "zh-CN": "周二", en: "Tue" },
  wed: { "zh-CN": "周三", en: "Wed" },
  thu: { "zh-CN": "周四", en: "Thu" },
  fri: { "zh-CN": "周五", en: "Fri" },
  sat: { "zh-CN": "周六", en: "Sat" },
  sun: { "zh-CN": "周日", en: "Sun" },
};

/**
 * A queue's business hours (the catalogue's `hours`: `always`, `never` or e.g.
 * `mon-fri 09:00-12:00,13:00-17:00; sat 09:00-12:00`) in the page's language:
 * "周一至周五 09:00–12:00、13:00–17:00;周六 09:00–12:00". Text it cannot read is shown as is.
 */
export function formatHours(hours) {
  const spec = String(hours ?? "").trim();
  if (spec === "always") return t("hours.always");
  if (spec === "never") return t("hours.never");
  const zh = lang === "zh-CN";
  const day = (name) => DAY_NAMES[name]?.[lang];
  const clauses = spec.split(";").map((clause) => {
    const match = /^([a-z,-]+)\s+(.+)$/.exec(clause.trim());
    if (!match) return null;
    const days = match[1].split(",").map((part) => {
      const [from, to] = part.split("-");
      if (!day(from) || (to !== undefined && !day(to))) return null;
      return to === undefined ? day(from) : `${day(from)}${zh ? "至" : "–"}${day(to)}`;
    });
    if (days.includes(null)) return null;
    const times = match[2].split(",").map((range) => range.trim().replace("-", "–"));
    return `${days.join(zh ? "、" : ", ")} ${times.join(zh ? "、" : ", ")}`;
  });
  if (!spec || clauses.includes(null)) return spec;
  return clauses.join(zh ? ";" : "; ");
}

/** `m:ss` for a duration in milliseconds. */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return `${minutes}:${seconds}`;
}

// ---------------------------------------------------------------------------------------------
// Signaling

/** The `/ws` URL on this page's origin; `query` is `""` (citizen) or `"?role=agent"`. */
function signalingUrl(query) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws${query}`;
}

/**
 * One WebSocket to `/ws` (`query` `"?role=agent"` for the agent console, which the server
 * authenticates by the session cookie), reopened with a growing delay after it drops (until
 * `close()`). Handlers: `onMessage(msg)` for every server message, `onOpen()`,
 * `onDrop(retryInSeconds, welcomed)` — `welcomed` is false when the connection never got its
 * `welcome`, as when the server refuses the handshake (HTTP 401/403, which a browser cannot
 * see).
 * Messages are handled one at a time in arrival order: an async `onMessage` (one that awaits
 * `setRemoteDescription`, say) finishes before the next message is looked at.
 */
export class Signaling {
  constructor({ query = "", onMessage, onOpen = () => {}, onDrop = () => {} }) {
    this.query = query;
    this.onMessage = onMessage;
    this.onOpen = onOpen;
    this.onDrop = onDrop;
    this.socket = null;
    this.closed = false;
    this.retryMs = 1000;
    this.retryTimer = null;
    /** The end of the chain of message handlers, so they run in order. */
    this.handled = Promise.resolve();
  }

  open() {
    this.closed = false;
    const socket = new WebSocket(signalingUrl(this.query));
    this.socket = socket;
    let welcomed = false;
    socket.addEventListener("open", () => {
      this.retryMs = 1000;
      this.onOpen();
    });
    socket.addEventListener("message", (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        console.warn("voicedesk: ignoring a frame that is not JSON");
        return;
      }
      if (msg.type === "welcome") welcomed = true;
      this.handled = this.handled
        .then(() => this.onMessage(msg))
        // A bug in a handler surfaces as an uncaught error; the next message is still handled.
        .catch((error) => reportError(error));
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket || this.closed) return;
      this.socket = null;
      const delay = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, 30000);
      this.onDrop(Math.round(delay / 1000), welcomed);
      this.retryTimer = setTimeout(() => this.open(), delay);
    });
  }

  /** Sends one client message; returns false when the socket is not open. */
  send(msg) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(msg));
    return true;
  }

  /** Closes for good (no reconnect). */
  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Media

/** Receive slots per leg (protocol `Role::receive_slots`): the first transceiver also sends. */
export const RECEIVE_SLOTS = 2;

/** Asks for the microphone. Rejects with the browser's error (NotAllowedError, …). */
export function getMicrophone() {
  return navigator.mediaDevices.getUserMedia({ audio: true, video: false });
}

/**
 * An audio peer connection with `RECEIVE_SLOTS` transceivers: slot 0 is `sendrecv` and carries
 * the microphone, the others are `recvonly`. Every remote track plays through
 * `audioElements[slot]`. The server is ICE-lite and does not trickle, so there are no ICE
 * servers. The connection becomes `window.voicedesk.pc`.
 */
export function createAudioPeer(micStream, audioElements) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  const [micTrack] = micStream.getAudioTracks();
  pc.addTransceiver(micTrack, { direction: "sendrecv", streams: [micStream] });
  for (let slot = 1; slot < RECEIVE_SLOTS; slot++) {
    pc.addTransceiver("audio", { direction: "recvonly" });
  }
  pc.addEventListener("track", (event) => {
    const slot = pc.getTransceivers().indexOf(event.transceiver);
    const element = audioElements[slot];
    if (!element) return;
    element.srcObject = new MediaStream([event.track]);
    element.play().catch(() => {
      // Autoplay may be refused until the user interacts; the element keeps its stream and
      // its controls let the user start it.
    });
  });
  testHandle.pc = pc;
  return pc;
}

/**
 * Creates the offer, sets it locally and waits until ICE gathering completes (the server does
 * not take trickled candidates), at most `timeoutMs`. Returns the SDP to send.
 */
export async function offerWhenGathered(pc, timeoutMs = 5000) {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  if (pc.iceGatheringState !== "complete") {
    await new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
      function check() {
        if (pc.iceGatheringState === "complete") done();
      }
      pc.addEventListener("icegatheringstatechange", check);
    });
  }
  return pc.localDescription.sdp;
}

/** Closes a peer connection and stops the microphone. Safe to call with nulls. */
export function closeAudioPeer(pc, micStream, audioElements = []) {
  for (const track of micStream?.getTracks() ?? []) track.stop();
  if (pc && pc.signalingState !== "closed") pc.close();
  for (const element of audioElements) element.srcObject = null;
}

// ---------------------------------------------------------------------------------------------
// Ratings and messages (issue 6), shared by the hall and the ticket page

/** The five levels of the government service-rating norm, best first. */
export const RATING_LEVELS = [5, 4, 3, 2, 1];

/** The longest text message and reply. */
export const MESSAGE_MAX = 2000;

/** Fills `container` with one radio button per level (`name` is the group's name and the ids'
 * prefix); the labels follow the language. */
export function fillRatingLevels(container, name) {
  container.replaceChildren(
    ...RATING_LEVELS.map((level) => {
      const label = document.createElement("label");
      label.className = "rating-option";
      label.dataset.level = String(level);
      const input = document.createElement("input");
      input.type = "radio";
      input.name = name;
      input.value = String(level);
      input.id = `${name}-${level}`;
      input.dataset.testid = `${name}-${level}`;
      const text = document.createElement("span");
      text.dataset.i18n = `rating.level.${level}`;
      text.textContent = t(text.dataset.i18n);
      label.append(input, text);
      return label;
    }),
  );
}

/** The level chosen in a radio group, or null. */
export function chosenLevel(container) {
  const input = container.querySelector("input[type=radio]:checked");
  return input ? Number(input.value) : null;
}

/** "非常满意" for 5. */
export function ratingName(level) {
  return t(`rating.level.${level}`);
}

/** Date and time of an epoch-ms instant with the year, for tickets and the inbox. */
export function formatDate(ms) {
  return new Date(ms).toLocaleString(lang, {
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
}

/**
 * An article's or a reply's text as paragraphs and numbered lists, line breaks kept: lines that
 * start with "1." / "2、" / "3)" become the items of one `<ol>`, the others a `<p>` each.
 */
export function renderText(container, text) {
  const nodes = [];
  let list = null;
  for (const line of String(text ?? "").split(/\r?\n/)) {
    const step = /^\s*(\d+)\s*[.、)）]\s*(.*)$/.exec(line);
    if (step) {
      if (!list) {
        list = document.createElement("ol");
        list.start = Number(step[1]);
        nodes.push(list);
      }
      const item = document.createElement("li");
      item.textContent = step[2];
      list.append(item);
    } else if (line.trim()) {
      list = null;
      const paragraph = document.createElement("p");
      paragraph.textContent = line;
      nodes.push(paragraph);
    }
  }
  container.replaceChildren(...nodes);
}
