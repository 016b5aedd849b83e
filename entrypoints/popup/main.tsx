import { render } from 'preact';
import { Popup } from '../../components/Popup';
import { connectBackground } from '../../utils/background-client';
import './popup.css';

render(<Popup client={connectBackground()} />, document.getElementById('app')!);
