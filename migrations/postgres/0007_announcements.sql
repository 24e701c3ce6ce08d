-- voicedesk store, change 0007 (Postgres): information announcements, edited by admins and listed
-- in the hall. Keep in step with migrations/sqlite/0007_announcements.sql (the same body).
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.
--
-- The hall's "information announcements" area: notices the admins publish (policy changes,
-- payment windows, holiday service hours). Chinese and English are required, Spanish optional
-- (both its title and body, or neither). Times are Unix epoch milliseconds like every other
-- table. An announcement is current from published_at_ms until expires_at_ms (open-ended when
-- NULL); pinned ones are listed first. created_by is the user id of the admin who wrote it
-- ('system' for the rows seeded here); not a foreign key, so an announcement outlives its
-- author's account.
CREATE TABLE announcements (
    id              TEXT    PRIMARY KEY NOT NULL,
    title_zh        TEXT    NOT NULL,
    title_en        TEXT    NOT NULL,
    title_es        TEXT,
    body_zh         TEXT    NOT NULL,
    body_en         TEXT    NOT NULL,
    body_es         TEXT,
    published_at_ms BIGINT  NOT NULL CHECK (published_at_ms >= 0),
    expires_at_ms   BIGINT,
    pinned          INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    created_by      TEXT    NOT NULL,
    updated_at_ms   BIGINT  NOT NULL,
    CHECK (expires_at_ms IS NULL OR expires_at_ms > published_at_ms),
    CHECK ((title_es IS NULL) = (body_es IS NULL))
);

-- The public list: what is published by now, newest first.
CREATE INDEX announcements_by_publication ON announcements (published_at_ms);

INSERT INTO announcements
    (id, title_zh, title_en, title_es, body_zh, body_en, body_es,
     published_at_ms, expires_at_ms, pinned, created_by, updated_at_ms)
VALUES
    ('pension_adjustment_2026',
     '2026年调整退休人员基本养老金',
     '2026 adjustment of basic pensions for retirees',
     'Ajuste de 2026 de las pensiones básicas de los jubilados',
     '按照国家统一部署，自2026年1月1日起，为2025年底前已按规定办理退休手续并按月领取基本养老金的退休人员提高基本养老金水平，总体调整水平为2025年退休人员月人均基本养老金的2%。调整采取定额调整、挂钩调整与适当倾斜相结合的办法，调整增加的金额将于8月底前补发到位，无需本人申请。如对调整结果有疑问，可在“养老保险待遇查询”中查看明细，或拨打网上语音咨询。',
     'Following the national plan, basic pensions are raised from 1 January 2026 for everyone who retired under the rules by the end of 2025 and draws a monthly basic pension: on average by 2 % of the 2025 monthly pension per retiree. The increase combines a flat amount, an amount linked to contribution years and pension level, and extra support for older retirees and those in remote areas. The increase, with arrears from January, is paid by the end of August; no application is needed. If you have questions about your amount, see the details under "Pension benefit inquiry" or call us online.',
     'Conforme al plan nacional, a partir del 1 de enero de 2026 se elevan las pensiones básicas de quienes se jubilaron conforme a las normas antes de finales de 2025 y cobran una pensión básica mensual: en promedio un 2 % de la pensión mensual de 2025. El aumento combina una cantidad fija, una cantidad vinculada a los años cotizados y al nivel de la pensión, y un apoyo adicional a los jubilados de mayor edad y de zonas remotas. El aumento, con los atrasos desde enero, se abona antes de finales de agosto; no hace falta solicitarlo. Si tiene dudas sobre su importe, consulte el detalle en «Consulta de la pensión» o llámenos por internet.',
     1784077200000, NULL, 0, 'system', 1784077200000),
    ('medical_payment_window_2027',
     '2027年度城乡居民基本医疗保险集中缴费期',
     'Residents'' basic medical insurance for 2027: payment period',
     'Seguro médico básico de residentes para 2027: plazo de pago',
     '2027年度城乡居民基本医疗保险集中缴费期为2026年9月1日至12月31日，个人缴费标准为每人每年400元。请在缴费期内通过网上服务大厅“城乡居民医保缴费”、手机银行或社区服务窗口缴费，缴费后2027年1月1日起享受待遇。逾期缴费的，自缴费之日起设置待遇等待期。低保对象、特困人员等困难群体的个人缴费由医疗救助资金按规定资助。',
     'The payment period for the 2027 urban and rural residents'' basic medical insurance runs from 1 September to 31 December 2026; the individual contribution is 400 yuan per person per year. Pay within the period in the online hall ("Residents'' medical insurance payment"), through mobile banking or at a community service counter; cover starts on 1 January 2027. If you pay late, a waiting period applies from the day you pay. For recipients of minimum living allowances and people in extreme hardship, medical assistance funds pay the contribution as the rules provide.',
     'El plazo de pago del seguro médico básico de residentes urbanos y rurales de 2027 va del 1 de septiembre al 31 de diciembre de 2026; la cuota individual es de 400 yuanes por persona y año. Pague dentro del plazo en la sala en línea («Pago del seguro médico de residentes»), por banca móvil o en una ventanilla comunitaria; la cobertura empieza el 1 de enero de 2027. Si paga fuera de plazo, se aplica un período de espera desde el día del pago. A los beneficiarios de la renta mínima y a las personas en situación de extrema necesidad, la asistencia médica les paga la cuota según las normas.',
     1788222600000, 1798732800000, 1, 'system', 1788222600000),
    ('pension_transfer_online',
     '养老保险关系跨省转移接续实现全程网办',
     'Cross-region pension transfers can now be done fully online',
     'El traslado de la pensión entre regiones ya se tramita íntegramente en línea',
     '即日起，参保人员跨省流动就业的，可通过网上服务大厅“养老保险关系跨地区转移”事项在线提交转移申请，无需再到转出地开具参保缴费凭证，转入地、转出地经办机构线上办理，办理进度可随时查询。一般情况下，自受理之日起15个工作日内办结。如需帮助，可在办理页面直接发起语音咨询。',
     'From today, insured people who move to a job in another province can apply for the transfer of their pension insurance online ("Cross-region pension transfer" in the online hall). There is no longer any need to fetch a contribution certificate from the old place: the offices of both regions handle the transfer online and you can follow its progress at any time. It is usually completed within 15 working days of acceptance. If you need help, start a voice consultation from the application page.',
     'Desde hoy, los asegurados que se trasladan a un empleo en otra provincia pueden solicitar en línea el traslado de su seguro de pensiones («Traslado de la pensión entre regiones» en la sala en línea). Ya no hace falta pedir un certificado de cotización en el lugar de origen: las oficinas de ambas regiones tramitan el traslado en línea y usted puede seguir su avance en todo momento. Normalmente se resuelve en 15 días hábiles desde la admisión. Si necesita ayuda, inicie una consulta de voz desde la página del trámite.',
     1791770400000, NULL, 0, 'system', 1791770400000),
    ('new_year_2027_service_hours',
     '2027年元旦假期服务安排',
     'Service hours over the New Year''s Day 2027 holiday',
     'Horario de atención durante el feriado de Año Nuevo de 2027',
     '2027年1月1日（星期五）至1月3日（星期日）元旦放假，共3天。假期期间网上服务大厅的自助查询、缴费和在线留言照常开放，人工语音咨询暂停服务；假期内的留言将于1月4日（星期一）起按顺序答复。1月4日起恢复正常服务时间。',
     'New Year''s Day holiday: Friday 1 January to Sunday 3 January 2027, three days. During the holiday, self-service inquiries, payments and online messages in the online hall stay open; voice consultation with an agent is suspended. Messages left during the holiday are answered in order from Monday 4 January, when normal service hours resume.',
     'Feriado de Año Nuevo: del viernes 1 al domingo 3 de enero de 2027, tres días. Durante el feriado siguen abiertas en la sala en línea las consultas de autoservicio, los pagos y los mensajes; la consulta de voz con un agente se suspende. Los mensajes dejados durante el feriado se responden por orden a partir del lunes 4 de enero, cuando se reanuda el horario habitual.',
     1795568400000, 1799024400000, 1, 'system', 1795568400000);
