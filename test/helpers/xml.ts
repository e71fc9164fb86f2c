/**
 * A small XML well-formedness check for tests (no parser among the dependencies): one root element, every start
 * tag closed in order, attributes quoted and unique per element, entities known or numeric, nothing but space,
 * comments and processing instructions outside the root. Returns the element names in document order.
 */
export function checkWellFormed(xml: string): string[] {
  const elements: string[] = [];
  const stack: string[] = [];
  let rootSeen = false;
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`not well-formed XML at offset ${i}: ${why}: ${JSON.stringify(xml.slice(i, i + 60))}`);
  };
  const checkText = (text: string) => {
    for (const m of text.matchAll(/&([^;\s]*);?/g)) {
      if (!/^(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+)$/.test(m[1]!) || !m[0].endsWith(';'))
        fail(`bad entity ${m[0]}`);
    }
    if (text.includes('<')) fail('stray <');
  };
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (stack.length === 0 && text.trim() !== '') fail('text outside the root element');
    checkText(text);
    if (lt < 0) break;
    i = lt;
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i + 4);
      if (end < 0) fail('unclosed comment');
      i = end + 3;
    } else if (xml.startsWith('<?', i)) {
      const end = xml.indexOf('?>', i + 2);
      if (end < 0) fail('unclosed processing instruction');
      i = end + 2;
    } else if (xml.startsWith('<!DOCTYPE', i)) {
      if (rootSeen) fail('DOCTYPE after the root');
      const end = xml.indexOf('>', i);
      if (end < 0) fail('unclosed DOCTYPE');
      i = end + 1;
    } else if (xml.startsWith('<![CDATA[', i)) {
      const end = xml.indexOf(']]>', i);
      if (end < 0 || stack.length === 0) fail('bad CDATA');
      i = end + 3;
    } else if (xml.startsWith('</', i)) {
      const m = /^<\/([A-Za-z_][\w.:-]*)\s*>/.exec(xml.slice(i));
      if (!m) fail('bad end tag');
      if (stack.pop() !== m![1]) fail(`end tag ${m![1]} does not close the open element`);
      i += m![0].length;
    } else {
      const m = /^<([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/.exec(
        xml.slice(i),
      );
      if (!m) fail('bad start tag');
      if (stack.length === 0 && rootSeen) fail('a second root element');
      rootSeen = true;
      const names = [...m![2]!.matchAll(/([A-Za-z_][\w.:-]*)\s*=\s*("[^"]*"|'[^']*')/g)];
      const seen = new Set<string>();
      for (const [, name, value] of names) {
        if (seen.has(name!)) fail(`attribute ${name} twice`);
        seen.add(name!);
        checkText(value!.slice(1, -1));
      }
      elements.push(m![1]!);
      if (m![3] !== '/') stack.push(m![1]!);
      i += m![0].length;
    }
  }
  if (stack.length > 0) fail(`unclosed ${stack.join(' > ')}`);
  if (!rootSeen) fail('no root element');
  return elements;
}
